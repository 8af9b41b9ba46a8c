// The C API's data path allocates nothing per I/O either: libnvmf-host's nvmf_qpair_write/read/poll against a
// target in this process, the same steady mix as allocation_free_io_test.cpp (4 KiB in-capsule writes, 128 KiB
// R2T writes, reads of both verified) at queue depth 32. The application drives the admin queue itself
// (admin_thread off) and keep-alive is off, so nothing timer-driven runs in the measured window.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "nvmf/host.h"
#include "target/target.hpp"
#include "tests/functional/target_fixture.hpp"
#include "tests/perf/allocation_counter.hpp"

using namespace nvmf;

namespace {
constexpr const char* kNqn = "nqn.2024-01.io.nvmf.test:alloc-c-api";
constexpr std::uint32_t kDepth = 32;
constexpr std::uint32_t kLarge = 128 * 1024;
constexpr std::uint32_t kSmall = 4096;
constexpr std::uint64_t kWarmupIos = 3000;
constexpr std::uint64_t kMeasuredIos = 20000;

enum class Step { write_small, read_small, write_large, read_large };

struct Driver;
struct Slot {
  Driver* driver = nullptr;
  std::uint64_t slba = 0;
  Step step = Step::write_small;
  std::uint8_t generation = 0;
  unsigned char* out = nullptr;
  unsigned char* in = nullptr;
};

struct Driver {
  nvmf_qpair* qp = nullptr;
  const nvmf_ns* ns = nullptr;
  std::uint32_t block_size = 0;
  std::vector<Slot> slots;
  std::uint64_t issued = 0, completed = 0, limit = 0, failures = 0;
  const char* first_error = nullptr;

  void fail(const char* what) {
    if (failures++ == 0) first_error = what;
  }

  void submit(Slot& s) {
    if (issued >= limit) return;
    const std::uint32_t bytes = (s.step == Step::write_small || s.step == Step::read_small) ? kSmall : kLarge;
    const std::uint32_t nlb = bytes / block_size;
    int rc;
    if (s.step == Step::write_small || s.step == Step::write_large) {
      std::memset(s.out, ++s.generation, bytes);
      rc = nvmf_qpair_write(qp, ns, s.out, s.slba, nlb, 0, &Driver::on_done, &s);
    } else {
      std::memset(s.in, 0, bytes);
      rc = nvmf_qpair_read(qp, ns, s.in, s.slba, nlb, &Driver::on_done, &s);
    }
    if (rc != 0) return fail("submit refused");
    ++issued;
  }

  static void on_done(void* arg, int status) {
    Slot& s = *static_cast<Slot*>(arg);
    Driver& d = *s.driver;
    ++d.completed;
    if (status != 0) return d.fail("I/O failed");
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

  void run(std::uint64_t count) {
    limit = issued + count;
    for (Slot& s : slots) submit(s);
    for (int idle = 0; completed < issued && idle < 5000;) {
      int n = nvmf_qpair_poll(qp, 1);
      if (n < 0) return fail("poll failed");
      idle = n > 0 ? 0 : idle + 1;
    }
  }
};

TEST(AllocationFreeCApi, SteadyStateAllocatesNothingOnEitherSide) {
  test::TargetSpec spec;
  test::SubsystemSpec sub;
  sub.nqn = kNqn;
  sub.namespaces = {test::NamespaceSpec{64ull << 20, 512}};
  spec.subsystems = {sub};
  target::Target target(test::make_target_config(spec));
  target.start();
  const auto addr = target.listen_addresses().at(0);

  nvmf_ctrl_opts opts;
  nvmf_ctrl_opts_init(&opts, sizeof opts);
  opts.traddr = addr.traddr.c_str();
  opts.trsvcid = addr.trsvcid.c_str();
  opts.subnqn = kNqn;
  opts.hostnqn = test::kTestHostNqn;
  opts.hostid = test::kTestHostId;
  opts.keep_alive_tmo_ms = 0;
  opts.admin_thread = false;
  opts.io_queue_size = kDepth;
  nvmf_ctrl* ctrl = nullptr;
  char err[256] = "";
  ASSERT_EQ(nvmf_ctrl_connect(&opts, &ctrl, err, sizeof err), 0) << err;
  nvmf_qpair* qp = nvmf_qpair_create(ctrl, kDepth, err, sizeof err);
  ASSERT_NE(qp, nullptr) << err;

  Driver d;
  d.qp = qp;
  d.ns = nvmf_ctrl_get_ns(ctrl, nvmf_ctrl_first_nsid(ctrl));
  ASSERT_NE(d.ns, nullptr);
  d.block_size = nvmf_ns_get_block_size(d.ns);
  ASSERT_GE(std::uint64_t(nvmf_ns_get_max_transfer_blocks(d.ns)) * d.block_size, kLarge);
  d.slots.resize(kDepth);
  std::vector<std::unique_ptr<unsigned char, decltype(&std::free)>> buffers;
  for (std::uint32_t i = 0; i < kDepth; ++i) {
    Slot& s = d.slots[i];
    s.driver = &d;
    s.slba = std::uint64_t(i) * (kLarge / d.block_size);
    s.out = static_cast<unsigned char*>(std::aligned_alloc(4096, kLarge));
    s.in = static_cast<unsigned char*>(std::aligned_alloc(4096, kLarge));
    buffers.emplace_back(s.out, &std::free);
    buffers.emplace_back(s.in, &std::free);
  }

  d.run(kWarmupIos);
  ASSERT_EQ(d.failures, 0u) << d.first_error;
  ASSERT_EQ(d.completed, kWarmupIos);

  test::start_counting_allocations();
  d.run(kMeasuredIos);
  const test::AllocationCounts counts = test::stop_counting_allocations();

  EXPECT_EQ(d.failures, 0u) << d.first_error;
  EXPECT_EQ(d.completed, kWarmupIos + kMeasuredIos);
  EXPECT_EQ(counts.count, 0u) << counts.count << " heap allocations during " << kMeasuredIos
                              << " steady-state I/Os through the C API (first of " << counts.first_size << " bytes)"
                              << (test::counting_malloc() ? "" : "; malloc not counted in sanitizer builds");
  nvmf_qpair_destroy(qp);
  EXPECT_EQ(nvmf_ctrl_disconnect(ctrl), 0);
  target.stop();
}

}  // namespace
