// Reads served from the namespace's own memory (Backend::lend_read): the null backend lends a read-only span of
// zeroes (RAM lends nothing), the transport sends from there. Checked here: the data is right, the
// copying path still serves transports that cannot send lent memory, and a namespace removed while such a send
// is still in the kernel keeps its memory until the transport lets go of the request.
#include <sys/mman.h>

#include "target/backends/null_backend.hpp"
#include "target/backends/ram_backend.hpp"
#include "target_fixture.hpp"

namespace nvmf::test {
namespace {

std::vector<std::byte> pattern(std::size_t n, unsigned seed) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 37 + seed * 11 + i / 512) & 0xFF);
  return v;
}

class LentReadTest : public TargetTest {
 protected:
  /// A subsystem with two RAM namespaces (NSID 1, 2) and a null one (NSID 3); the I/O queue lends when `lends`.
  void start(bool lends) {
    auto s = ram_subsystem(kSubNqn, 1 << 20, 512, 2);
    target::NamespaceConfig null_ns;
    null_ns.kind = target::BackendKind::null;
    null_ns.size = 1 << 20;
    null_ns.block_size = 512;
    s.namespaces.push_back(null_ns);
    target::TargetConfig c;
    c.listeners.push_back(target::parse_listen_address("tcp:127.0.0.1:0"));
    c.subsystems.push_back(s);
    target_ = std::make_unique<target::Target>(c);
    registry_ = target_->registry();
    factory_ = std::make_unique<target::SessionFactory>(registry_);
    admin_ = new_queue();
    cntlid_ = connect_and_enable(*admin_);
    io_ = new_queue();
    io_->set_lends_data(lends);
    ASSERT_TRUE(connect_io(*io_, cntlid_, 1).status().ok());
  }

  std::unique_ptr<target::Target> target_;
  std::unique_ptr<FakeQueue> admin_, io_;
  std::uint16_t cntlid_ = 0;
};

TEST_F(LentReadTest, RamReadsAreCopiedNotLent) {
  // RAM lends nothing (ram_backend.hpp says why: a fused Compare and Write could tear a lent read's send).
  start(true);
  const auto data = pattern(8192, 1);
  ASSERT_TRUE(io_->run(io_sqe(nvme_cmd_write, 1, 40, 16), 8192, data.data()).status().ok());
  auto r = io_->run(io_sqe(nvme_cmd_read, 1, 40, 16), 8192);
  ASSERT_TRUE(r.status().ok());
  EXPECT_EQ(r.data, data);
  EXPECT_EQ(io_->lent_count(), 0u);
}

TEST_F(LentReadTest, NullReadsLendZeroes) {
  start(true);
  auto r = io_->run(io_sqe(nvme_cmd_read, 3, 100, 256), 128 * 1024);
  ASSERT_TRUE(r.status().ok());
  EXPECT_EQ(r.data, std::vector<std::byte>(128 * 1024));
  EXPECT_EQ(io_->lent_count(), 1u);
}

TEST_F(LentReadTest, TransportWithoutLendingGetsACopy) {
  start(false);
  const auto data = pattern(4096, 3);
  ASSERT_TRUE(io_->run(io_sqe(nvme_cmd_write, 2, 8, 8), 4096, data.data()).status().ok());
  auto r = io_->run(io_sqe(nvme_cmd_read, 2, 8, 8), 4096);
  ASSERT_TRUE(r.status().ok());
  EXPECT_EQ(r.data, data);
  r = io_->run(io_sqe(nvme_cmd_read, 3, 0, 8), 4096);
  EXPECT_EQ(r.data, std::vector<std::byte>(4096));
  EXPECT_EQ(io_->lent_count(), 0u);
}

TEST_F(LentReadTest, FailedReadLendsNothing) {
  start(true);
  auto r = io_->run(io_sqe(nvme_cmd_read, 3, (1 << 20) / 512, 1), 512);
  EXPECT_TRUE(r.status().same_code(nvme::Status::generic(NVME_SC_LBA_RANGE)));
  EXPECT_EQ(io_->lent_count(), 0u);
}

TEST_F(LentReadTest, RemovedNamespaceKeepsItsMemoryWhileASendHoldsIt) {
  start(true);
  std::weak_ptr<const target::Backend> backend = registry_->find(kSubNqn)->namespaces()->all()[2]->backend;
  ASSERT_FALSE(backend.expired());
  io_->set_hold_sends(true);  // the C2HData is still in the kernel when the namespace goes
  ASSERT_TRUE(io_->run(io_sqe(nvme_cmd_read, 3, 0, 8), 4096).status().ok());
  const std::byte* lent = io_->last_lent();
  ASSERT_NE(lent, nullptr);
  target_->remove_namespace(kSubNqn, 3);
  drain();
  EXPECT_TRUE(io_->run(io_sqe(nvme_cmd_read, 3, 0, 8), 4096).status().same_code(nvme::Status::generic(NVME_SC_INVALID_NS)));
  // Nothing but the held send owns the backend now, and its memory is still mapped with the data.
  ASSERT_FALSE(backend.expired());
  unsigned char resident = 0;
  ASSERT_EQ(mincore(const_cast<std::byte*>(lent), 4096, &resident), 0) << "the lent memory was unmapped";
  EXPECT_EQ(std::count(lent, lent + 4096, std::byte{0}), 4096);
  io_->release_held_sends();
  EXPECT_TRUE(backend.expired());
  EXPECT_TRUE(io_->run(io_sqe(nvme_cmd_read, 1, 0, 8), 4096).status().ok());  // the other namespaces serve on
}

TEST(LentReadBackends, NullLendsItsZeroSpanRamNothing) {
  target::RamBackend ram(1 << 20);
  EXPECT_EQ(ram.lend_read(0, 4096), nullptr);
  target::NullBackend null(1 << 30);
  const std::byte* zeros = null.lend_read(1 << 29, target::NullBackend::kZeroSpan);
  ASSERT_NE(zeros, nullptr);
  EXPECT_EQ(std::count(zeros, zeros + target::NullBackend::kZeroSpan, std::byte{0}),
            static_cast<long>(target::NullBackend::kZeroSpan));
  // Longer than the span: no loan, the caller's buffer is zeroed by read() instead.
  EXPECT_EQ(null.lend_read(0, target::NullBackend::kZeroSpan + 512), nullptr);
}

}  // namespace
}  // namespace nvmf::test
