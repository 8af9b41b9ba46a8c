// In-capsule write data as the NVMe/RDMA controller queue receives it (fabric/rdma/receive_layout.hpp) handed to
// a file namespace: it starts on a 4 KiB boundary, so the write takes the O_DIRECT descriptor. The old layout
// (data right after the 64-byte SQE in one buffer) is the control: it falls back to the page cache. No RDMA
// device needed; the VM's rdma_loopback checks the alignment on a real queue.
#include <cstdlib>
#include <cstring>

#include "fabric/rdma/capsule.hpp"
#include "fabric/rdma/receive_layout.hpp"
#include "target/backends/file_backend.hpp"
#include "target_fixture.hpp"
#include "temp_file.hpp"

namespace nvmf::test {
namespace {

int write_and_wait(target::FileBackend& backend, fabric::Reactor& reactor, std::uint64_t offset,
                   const std::byte* data, std::uint32_t length) {
  struct Op {
    target::BackendIo io;
    int result = 1;
    bool done = false;
  } op;
  op.io.context = &op;
  op.io.done = [](target::BackendIo& io, int res) {
    auto* self = static_cast<Op*>(io.context);
    self->result = res;
    self->done = true;
  };
  backend.write(reactor, op.io, offset, data, length, false);
  for (int i = 0; i < 1000 && !op.done; ++i) reactor.run_once(std::chrono::milliseconds(5));
  return op.result;
}

TEST(RdmaInCapsuleData, TakesTheODirectPathOfAFileNamespace) {
  // /var/tmp: a disk file system (tmpfs before Linux 6.6 refuses O_DIRECT, and /tmp may be tmpfs).
  TempFile file(1 << 20, "/var/tmp");
  target::FileBackend backend(file.path(), 512);
  ASSERT_TRUE(backend.direct()) << backend.describe() << ": /var/tmp must accept O_DIRECT for this test";
  fabric::Reactor reactor(0);

  // Receive buffers of an I/O queue with the default 8 KiB in-capsule data, laid out as the queue lays them out.
  constexpr std::uint32_t kDepth = 4;
  constexpr std::uint32_t kInCapsule = 8192;
  fabric::rdma::ReceiveLayout layout(kDepth, kInCapsule);
  auto* memory = static_cast<std::byte*>(std::aligned_alloc(fabric::rdma::ReceiveLayout::kDataAlignment,
                                                            layout.total_bytes()));
  ASSERT_NE(memory, nullptr);
  for (std::uint32_t i = 0; i < kDepth; ++i) {
    std::byte* data = memory + layout.data_offset(i);  // where the controller queue points req.data
    std::memset(data, 0x40 + static_cast<int>(i), kInCapsule);
    ASSERT_EQ(write_and_wait(backend, reactor, std::uint64_t(i) * kInCapsule, data, 4096), 0);
  }
  EXPECT_EQ(backend.buffered_fallbacks(), 0u) << "in-capsule data went through the page cache";

  // Control: data 64 bytes after the SQE in one buffer (the former layout) is never block-aligned.
  std::byte* single_buffer = memory + layout.data_offset(0) + fabric::rdma::kCommandCapsuleHeader;
  ASSERT_EQ(write_and_wait(backend, reactor, 0, single_buffer, 4096), 0);
  EXPECT_EQ(backend.buffered_fallbacks(), 1u);
  std::free(memory);
}

}  // namespace
}  // namespace nvmf::test
