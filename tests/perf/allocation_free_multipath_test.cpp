// The multipath data path allocates nothing per I/O either: a target in this process with two listeners (two
// paths to one subsystem) and a MultipathQueue on the test thread run 4 KiB writes and checked reads at queue
// depth 32, spread over both paths. After a warm-up, the allocation counter (operator new and the C allocator,
// all threads) must not move while thousands more I/Os complete. Keep-alive is off, so the set needs no polling
// inside the measured window.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "fabric/reactor.hpp"
#include "initiator/multipath.hpp"
#include "target/target.hpp"
#include "tests/functional/target_fixture.hpp"
#include "tests/perf/allocation_counter.hpp"

using namespace nvmf;

namespace {
constexpr const char* kNqn = "nqn.2024-01.io.nvmf.test:alloc-multipath";
constexpr std::uint32_t kDepth = 32;
constexpr std::uint32_t kBytes = 4096;
constexpr std::uint64_t kWarmupIos = 3000;
constexpr std::uint64_t kMeasuredIos = 20000;

struct Driver;
struct Slot {
  Driver* driver = nullptr;
  std::uint64_t slba = 0;
  bool reading = false;
  std::uint8_t generation = 0;
  std::byte* out = nullptr;
  std::byte* in = nullptr;
};

// Each slot writes its 4 KiB, reads it back and checks it, over its own blocks.
struct Driver {
  initiator::MultipathQueue* queue = nullptr;
  std::uint32_t nsid = 0;
  std::uint32_t nlb = 0;
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
    initiator::SubmitResult r;
    if (s.reading) {
      std::memset(s.in, 0, kBytes);
      r = queue->read(nsid, s.slba, nlb, s.in, &Driver::on_done, &s);
    } else {
      std::memset(s.out, ++s.generation, kBytes);
      r = queue->write(nsid, s.slba, nlb, s.out, &Driver::on_done, &s);
    }
    if (r != initiator::SubmitResult::ok) return fail("submit refused");
    ++issued;
  }
  static void on_done(void* arg, nvme::Status status) {
    Slot& s = *static_cast<Slot*>(arg);
    Driver& d = *s.driver;
    ++d.completed;
    if (!status.ok()) return d.fail("I/O failed");
    if (s.reading && std::memcmp(s.in, s.out, kBytes) != 0) return d.fail("read returned other data");
    s.reading = !s.reading;
    d.submit(s);
  }
  void run(std::uint64_t count) {
    limit = issued + count;
    for (Slot& s : slots) submit(s);
    for (int idle = 0; completed < issued && idle < 5000 && queue->alive();)
      idle = queue->process_completions(std::chrono::milliseconds(1)) ? 0 : idle + 1;
  }
};
}  // namespace

TEST(AllocationFreeMultipath, SteadyStateAllocatesNothingOverTwoPaths) {
  test::TargetSpec spec;
  test::SubsystemSpec sub;
  sub.nqn = kNqn;
  sub.namespaces = {test::NamespaceSpec{64ull << 20, 512}};
  spec.subsystems = {sub};
  spec.listeners = 2;
  test::EmbeddedTarget target;
  std::string why;
  ASSERT_TRUE(target.start(spec, &why)) << why;

  std::vector<initiator::ControllerOptions> paths = {target.options(kNqn, 0), target.options(kNqn, 1)};
  for (auto& p : paths) {
    p.keep_alive_timeout_ms = 0;
    p.nr_io_queues = 2;  // the set's own queue and this test's
  }
  initiator::Error error;
  auto set = initiator::MultipathSet::connect(paths, &error);
  ASSERT_TRUE(set) << error.to_string();
  fabric::Reactor reactor(0);
  auto queue = set->create_queue(reactor, kDepth, initiator::PathPolicy::least_queued, &error);
  ASSERT_TRUE(queue) << error.to_string();

  Driver d;
  d.queue = queue.get();
  d.nsid = set->controller(0).namespaces().front().nsid;
  d.nlb = kBytes / set->controller(0).namespaces().front().block_size;
  d.slots.resize(queue->depth());
  std::vector<std::unique_ptr<std::byte, decltype(&std::free)>> buffers;
  for (std::uint32_t i = 0; i < d.slots.size(); ++i) {
    Slot& s = d.slots[i];
    s.driver = &d;
    s.slba = std::uint64_t(i) * d.nlb;
    s.out = static_cast<std::byte*>(std::aligned_alloc(4096, kBytes));
    s.in = static_cast<std::byte*>(std::aligned_alloc(4096, kBytes));
    buffers.emplace_back(s.out, &std::free);
    buffers.emplace_back(s.in, &std::free);
  }

  d.run(kWarmupIos);
  ASSERT_EQ(d.failures, 0u) << d.first_error;
  ASSERT_EQ(d.completed, kWarmupIos);
  const std::uint64_t before[2] = {queue->completed_on(0), queue->completed_on(1)};

  test::start_counting_allocations();
  d.run(kMeasuredIos);
  const test::AllocationCounts counts = test::stop_counting_allocations();

  EXPECT_EQ(d.failures, 0u) << d.first_error;
  EXPECT_EQ(d.completed, kWarmupIos + kMeasuredIos);
  EXPECT_GT(queue->completed_on(0), before[0]);  // both paths carried the measured I/O
  EXPECT_GT(queue->completed_on(1), before[1]);
  EXPECT_EQ(counts.count, 0u) << counts.count << " heap allocations during " << kMeasuredIos
                              << " steady-state I/Os over two paths (first of " << counts.first_size << " bytes)"
                              << (test::counting_malloc() ? "" : "; malloc not counted in sanitizer builds");
  queue.reset();
  set.reset();
}
