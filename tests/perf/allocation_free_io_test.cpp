// The data path allocates nothing per I/O, on either side: a target in this process (its own reactor thread, a RAM
// namespace or a file namespace through io_uring) and an initiator I/O queue on the test thread run a steady mix
// of 4 KiB writes (in-capsule), 128 KiB writes (R2T + H2CData over TCP, RDMA READ over RDMA), and reads of both
// sizes whose data is checked, at queue depth 32. After a warm-up that sizes every pool, the allocation counter
// (operator new and the C allocator, all threads) must not move while thousands more I/Os complete. Keep-alive is
// off so that no timer-driven admin command lands in the window.
//
// NVMe/TCP runs on loopback everywhere. NVMe/RDMA needs an RDMA device, which only the VM has: with
// NVMF_TEST_RDMA_ADDR set (tests/interop/rdma_loopback.sh sets it to the guest's soft-RoCE address) the RDMA cases
// are the ones instantiated, so a run that means RDMA cannot silently pass on TCP.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "fabric/reactor.hpp"
#include "initiator/controller.hpp"
#include "initiator/io_queue.hpp"
#include "target/target.hpp"
#include "tests/functional/target_fixture.hpp"
#include "tests/perf/allocation_counter.hpp"

using namespace nvmf;

namespace {
constexpr const char* kNqn = "nqn.2024-01.io.nvmf.test:alloc";
constexpr std::uint32_t kDepth = 32;
constexpr std::uint32_t kLarge = 128 * 1024;
constexpr std::uint32_t kSmall = 4096;
constexpr std::uint64_t kWarmupIos = 3000;
constexpr std::uint64_t kMeasuredIos = 20000;
// Soft-RoCE under the VM's software emulation moves about 150 I/Os a second: fewer I/Os there, still every slot
// through every step many times after the pools are sized.
constexpr std::uint64_t kRdmaWarmupIos = 1000;
constexpr std::uint64_t kRdmaMeasuredIos = 2000;

// Each slot repeats: write 4 KiB, read it back, write 128 KiB, read it back, over its own LBA range.
enum class Step { write_small, read_small, write_large, read_large };

struct Driver;
struct Slot {
  Driver* driver = nullptr;
  std::uint64_t slba = 0;
  Step step = Step::write_small;
  std::uint8_t generation = 0;
  std::byte* out = nullptr;  ///< What the last write sent
  std::byte* in = nullptr;   ///< Where reads land
};

struct Driver {
  initiator::IoQueue* queue = nullptr;
  initiator::Namespace ns;
  std::vector<Slot> slots;
  std::uint64_t issued = 0;
  std::uint64_t completed = 0;
  std::uint64_t limit = 0;
  std::uint64_t failures = 0;
  std::string first_error;  ///< Only assigned on failure

  void fail(const char* what) {
    if (failures++ == 0) first_error = what;
  }

  void submit(Slot& s) {
    if (issued >= limit) return;
    const std::uint32_t bytes = (s.step == Step::write_small || s.step == Step::read_small) ? kSmall : kLarge;
    const std::uint32_t nlb = bytes / ns.block_size;
    initiator::SubmitResult r;
    if (s.step == Step::write_small || s.step == Step::write_large) {
      std::memset(s.out, ++s.generation, bytes);  // new content each time: a stale read cannot pass the check
      r = queue->write(ns, s.slba, nlb, s.out, &Driver::on_done, &s);
    } else {
      std::memset(s.in, 0, bytes);
      r = queue->read(ns, s.slba, nlb, s.in, &Driver::on_done, &s);
    }
    if (r != initiator::SubmitResult::ok) return fail("submit refused");
    ++issued;
  }

  static void on_done(void* arg, nvme::Status status) {
    Slot& s = *static_cast<Slot*>(arg);
    Driver& d = *s.driver;
    ++d.completed;
    if (!status.ok()) return d.fail("I/O failed");
    switch (s.step) {
      case Step::write_small: s.step = Step::read_small; break;
      case Step::read_small:
        if (std::memcmp(s.in, s.out, kSmall) != 0) return d.fail("4 KiB read returned other data");
        s.step = Step::write_large;
        break;
      case Step::write_large: s.step = Step::read_large; break;
      case Step::read_large:
        if (std::memcmp(s.in, s.out, kLarge) != 0) return d.fail("128 KiB read returned other data");
        s.step = Step::write_small;
        break;
    }
    d.submit(s);
  }

  /// Issue `count` more I/Os with every slot busy and drive the queue until all completed.
  void run(std::uint64_t count) {
    limit = issued + count;
    for (Slot& s : slots) submit(s);
    for (int idle = 0; completed < issued && idle < 5000 && queue->alive();)
      idle = queue->process_completions(std::chrono::milliseconds(1)) ? 0 : idle + 1;
  }
};

enum class Backend { ram, file };

/// One case: the transport (with the address RDMA listens on), the backend and whether digests are on (TCP only).
struct Case {
  fabric::TransportType transport;
  Backend backend;
  bool digests;
  std::string rdma_addr{};
};

std::vector<Case> cases() {
  std::vector<Case> list;
  if (const char* rdma = std::getenv("NVMF_TEST_RDMA_ADDR"); rdma && *rdma) {
    for (Backend b : {Backend::ram, Backend::file}) list.push_back({fabric::TransportType::rdma, b, false, rdma});
    return list;
  }
  for (Backend b : {Backend::ram, Backend::file})
    for (bool digests : {false, true}) list.push_back({fabric::TransportType::tcp, b, digests});
#if NVMF_TEST_OFI
  // NVMe/RDMA capsules over libfabric's tcp provider on loopback: our side of that path must not allocate either.
  for (Backend b : {Backend::ram, Backend::file}) list.push_back({fabric::TransportType::ofi, b, false});
#endif
  return list;
}

/// A sparse 64 MiB file for the file backend, removed at the end of the test.
class BackingFile {
 public:
  BackingFile() {
    char tmpl[] = "/tmp/nvmf-alloc-test-XXXXXX";
    int fd = mkstemp(tmpl);
    if (fd < 0 || ftruncate(fd, 64 << 20) != 0) throw std::runtime_error("cannot create the backing file");
    ::close(fd);
    path_ = tmpl;
  }
  ~BackingFile() { ::unlink(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class AllocationFreeIo : public ::testing::TestWithParam<Case> {};

TEST_P(AllocationFreeIo, SteadyStateAllocatesNothingOnEitherSide) {
  const Case& c = GetParam();
  const Backend backend = c.backend;
  const bool digests = c.digests;
  const bool rdma = c.transport == fabric::TransportType::rdma;
  const std::uint64_t warmup_ios = rdma ? kRdmaWarmupIos : kWarmupIos;
  const std::uint64_t measured_ios = rdma ? kRdmaMeasuredIos : kMeasuredIos;
  test::TargetSpec spec;
  test::SubsystemSpec sub;
  sub.nqn = kNqn;
  sub.namespaces = {test::NamespaceSpec{64ull << 20, 512}};
  spec.subsystems = {sub};
  target::TargetConfig config = test::make_target_config(spec);
  std::optional<BackingFile> file;
  if (backend == Backend::file) {
    file.emplace();
    target::NamespaceConfig& ns = config.subsystems.at(0).namespaces.at(0);
    ns.kind = target::BackendKind::file;
    ns.path = file->path();
    ns.size = 0;
  }
  if (rdma) {
    config.listeners.at(0).trtype = fabric::TransportType::rdma;
    config.listeners.at(0).traddr = c.rdma_addr;
    config.listeners.at(0).trsvcid = "4420";  // the RDMA listener reports the configured port, so no port 0
  }
  const bool ofi = c.transport == fabric::TransportType::ofi;
  if (ofi) {
    config.listeners.at(0).trtype = fabric::TransportType::ofi;
    config.listeners.at(0).provider = "tcp";
  }
  target::Target target(config);
  target.start();
  const auto addr = target.listen_addresses().at(0);

  initiator::ControllerOptions options = test::host_options(test::Endpoint{addr.traddr, addr.trsvcid}, kNqn);
  options.transport = rdma ? "rdma" : ofi ? "ofi:tcp" : "tcp";
  options.keep_alive_timeout_ms = 0;
  options.header_digest = digests;
  options.data_digest = digests;
  fabric::Reactor reactor(0);
  initiator::Error error;
  auto controller = initiator::Controller::connect(reactor, options, &error);
  ASSERT_TRUE(controller) << error.to_string();
  auto queue = controller->create_io_queue(reactor, &error, kDepth);
  ASSERT_TRUE(queue) << error.to_string();
  ASSERT_FALSE(controller->namespaces().empty());

  Driver d;
  d.queue = queue.get();
  d.ns = controller->namespaces().front();
  ASSERT_GE(d.ns.max_transfer_blocks * d.ns.block_size, kLarge);
  d.slots.resize(kDepth);
  std::vector<std::unique_ptr<std::byte, decltype(&std::free)>> buffers;
  for (std::uint32_t i = 0; i < kDepth; ++i) {
    Slot& s = d.slots[i];
    s.driver = &d;
    s.slba = std::uint64_t(i) * (kLarge / d.ns.block_size);
    s.out = static_cast<std::byte*>(std::aligned_alloc(4096, kLarge));
    s.in = static_cast<std::byte*>(std::aligned_alloc(4096, kLarge));
    buffers.emplace_back(s.out, &std::free);
    buffers.emplace_back(s.in, &std::free);
  }

  d.run(warmup_ios);  // sizes the pools: target request buffers, reactor queues, sender/receiver state
  ASSERT_EQ(d.failures, 0u) << d.first_error;
  ASSERT_EQ(d.completed, warmup_ios);

  test::start_counting_allocations();
  d.run(measured_ios);
  const test::AllocationCounts counts = test::stop_counting_allocations();

  EXPECT_EQ(d.failures, 0u) << d.first_error;
  EXPECT_EQ(d.completed, warmup_ios + measured_ios) << "queue alive: " << queue->alive();
  EXPECT_EQ(counts.count, 0u) << counts.count << " heap allocations during " << measured_ios
                              << " steady-state I/Os (first of " << counts.first_size << " bytes)"
                              << (test::counting_malloc() ? "" : "; malloc not counted in sanitizer builds");
  queue.reset();
  controller.reset();
  target.stop();
}

// The counter itself must see an allocation, or the test above proves nothing.
TEST(AllocationCounter, SeesAnAllocationOnAnotherThread) {
  test::start_counting_allocations();
  std::thread([] {
    auto v = std::make_unique<std::vector<int>>(100);
    ASSERT_EQ(v->size(), 100u);
  }).join();
  EXPECT_GE(test::stop_counting_allocations().count, 1u);
  if (test::counting_malloc()) {
    test::start_counting_allocations();
    void* p = std::malloc(64);
    ASSERT_NE(p, nullptr);
    asm volatile("" : : "g"(p) : "memory");  // keep the compiler from eliding the pair
    std::free(p);
    EXPECT_EQ(test::stop_counting_allocations().count, 1u);
  }
}

INSTANTIATE_TEST_SUITE_P(TransportsBackendsAndDigests, AllocationFreeIo, ::testing::ValuesIn(cases()),
                         [](const auto& info) {
                           const Case& c = info.param;
                           const char* transport = c.transport == fabric::TransportType::rdma ? "rdma_"
                                                   : c.transport == fabric::TransportType::ofi  ? "ofi_tcp_"
                                                                                                : "tcp_";
                           return std::string(transport) +
                                  (c.backend == Backend::ram ? "ram" : "file") +
                                  (c.digests ? "_with_digests" : "_no_digests");
                         });

}  // namespace
