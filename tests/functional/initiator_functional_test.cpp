// The initiator library against a real `nvmf target` process over NVMe/TCP on loopback: bring-up and Identify,
// the data path (in-capsule and R2T writes, reads, flush, write zeroes, deallocate, compare) with data checked,
// digests, several queues on several threads, keep-alive, ACL and unknown-subsystem rejections, discovery.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "initiator/controller.hpp"
#include "initiator/discovery.hpp"
#include "initiator/io_queue.hpp"
#include "initiator/workload/perf_runner.hpp"
#include "initiator/workload/verify_pattern.hpp"
#include "nvme/fabrics.hpp"
#include "tests/functional/shared_target_test.hpp"

using namespace nvmf;
using namespace nvmf::initiator;
using TargetProcess = nvmf::test::EmbeddedTarget;

namespace {
constexpr const char* kNqnA = "nqn.2024-01.io.nvmf.test:alpha";
constexpr const char* kNqnB = "nqn.2024-01.io.nvmf.test:beta";
constexpr const char* kNqnAcl = "nqn.2024-01.io.nvmf.test:acl";
constexpr const char* kAllowedHost = "nqn.2024-01.io.nvmf.test:allowed-host";

std::vector<std::uint8_t> random_bytes(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::uint8_t> v(n);
  for (auto& b : v) b = static_cast<std::uint8_t>(rng());
  return v;
}

class InitiatorFunctional : public test::SharedTargetTest<test::EmbeddedTarget> {
 protected:
  static void SetUpTestSuite() {
    test::TargetSpec spec;
    test::SubsystemSpec a;
    a.nqn = kNqnA;
    a.serial = "SNALPHA42";
    a.model = "nvmf alpha model";
    a.namespaces = {test::NamespaceSpec{64ull << 20, 512}, test::NamespaceSpec{32ull << 20, 4096}};
    test::SubsystemSpec b;
    b.nqn = kNqnB;
    b.serial = "SNBETA7";
    b.namespaces = {test::NamespaceSpec{16ull << 20, 4096}};
    test::SubsystemSpec acl;
    acl.nqn = kNqnAcl;
    acl.allowed_hosts = {kAllowedHost};
    spec.subsystems = {a, b, acl};
    spec.listeners = 2;
    start_shared_target(spec);
  }

  static std::unique_ptr<Controller> connect(ControllerOptions o) {
    Error error;
    auto ctrl = Controller::connect(o, &error);
    EXPECT_TRUE(ctrl) << error.to_string();
    return ctrl;
  }

};

// A controller plus one I/O queue on its reactor.
struct Attached {
  explicit Attached(const ControllerOptions& o) {
    Error error;
    ctrl = Controller::connect(o, &error);
    if (!ctrl) {
      ADD_FAILURE() << error.to_string();
      return;
    }
    queue = ctrl->create_io_queue(ctrl->reactor(), &error);
    if (!queue) ADD_FAILURE() << error.to_string();
  }
  ~Attached() {
    queue.reset();
    if (ctrl) {
      EXPECT_FALSE(ctrl->shutdown()) << "shutdown failed";
    }
  }
  std::unique_ptr<Controller> ctrl;
  std::unique_ptr<IoQueue> queue;
};
}  // namespace

TEST_F(InitiatorFunctional, IdentifyMatchesTargetConfiguration) {
  auto o = target_->options(kNqnA);
  o.nr_io_queues = 4;
  auto ctrl = connect(o);
  ASSERT_TRUE(ctrl);
  const nvme_id_ctrl& id = ctrl->id();
  EXPECT_EQ(std::string(id.sn, strnlen(id.sn, sizeof id.sn)).substr(0, 9), "SNALPHA42");
  EXPECT_EQ(std::string(id.mn, strnlen(id.mn, sizeof id.mn)).substr(0, 16), "nvmf alpha model");
  EXPECT_STREQ(id.subnqn, kNqnA);
  EXPECT_EQ(id.cntlid, ctrl->cntlid());
  EXPECT_GE(id.ioccsz, 4u);
  EXPECT_FALSE(ctrl->is_discovery());
  EXPECT_GE(ctrl->io_queues_granted(), 1);
  EXPECT_NE(ctrl->vs(), 0u);
  ASSERT_EQ(ctrl->namespaces().size(), 2u);
  EXPECT_EQ(ctrl->namespaces()[0].nsid, 1u);
  EXPECT_EQ(ctrl->namespaces()[0].block_size, 512u);
  EXPECT_EQ(ctrl->namespaces()[0].size_bytes(), 64ull << 20);
  EXPECT_EQ(ctrl->namespaces()[1].block_size, 4096u);
  EXPECT_EQ(ctrl->namespaces()[1].size_bytes(), 32ull << 20);

  // Several I/O queues, one connection each, up to what was granted; one more is refused by the host.
  std::vector<std::unique_ptr<IoQueue>> queues;
  for (unsigned i = 0; i < ctrl->io_queues_granted(); ++i) {
    Error e;
    auto q = ctrl->create_io_queue(ctrl->reactor(), &e);
    ASSERT_TRUE(q) << e.to_string();
    EXPECT_EQ(q->qid(), i + 1);
    queues.push_back(std::move(q));
  }
  Error e;
  EXPECT_FALSE(ctrl->create_io_queue(ctrl->reactor(), &e));
  queues.clear();
  EXPECT_FALSE(ctrl->shutdown());
}

TEST_F(InitiatorFunctional, ReadWriteRoundTripInCapsuleAndR2T) {
  Attached a(target_->options(kNqnA));
  ASSERT_TRUE(a.queue);
  for (const Namespace& ns : a.ctrl->namespaces()) {
    // 4 KiB fits in-capsule (IOCCSZ); larger writes go through R2T; 1 MiB may exceed MDTS and is split.
    for (std::size_t bytes : {std::size_t(4096), std::size_t(8192), std::size_t(64 << 10), std::size_t(1 << 20)}) {
      const auto nlb = static_cast<std::uint32_t>(bytes / ns.block_size);
      const std::uint64_t slba = ns.capacity_blocks - nlb - 7 * (bytes / 4096);
      auto data = random_bytes(bytes, static_cast<std::uint32_t>(bytes + ns.nsid));
      ASSERT_TRUE(a.queue->write_sync(ns, slba, nlb, data.data()).ok()) << bytes;
      std::vector<std::uint8_t> back(bytes, 0xEE);
      ASSERT_TRUE(a.queue->read_sync(ns, slba, nlb, back.data()).ok());
      EXPECT_EQ(std::memcmp(back.data(), data.data(), bytes), 0) << "nsid " << ns.nsid << " size " << bytes;
    }
    EXPECT_TRUE(a.queue->flush_sync(ns).ok());
  }
}

TEST_F(InitiatorFunctional, ScatterGatherReadLandsInCallerBuffers) {
  Attached a(target_->options(kNqnA));
  ASSERT_TRUE(a.queue);
  const Namespace& ns = a.ctrl->namespaces()[0];
  auto data = random_bytes(16 * 512, 3);
  ASSERT_TRUE(a.queue->write_sync(ns, 100, 16, data.data(), true).ok());
  std::vector<std::uint8_t> p1(512 * 3), p2(512 * 13);
  iovec iov[2] = {{p1.data(), p1.size()}, {p2.data(), p2.size()}};
  struct Done {
    bool done = false;
    nvme::Status status;
  } done;
  ASSERT_EQ(a.queue->readv(ns, 100, 16, iov, 2,
                           [](void* arg, nvme::Status s) {
                             auto* d = static_cast<Done*>(arg);
                             d->done = true;
                             d->status = s;
                           },
                           &done),
            SubmitResult::ok);
  for (int i = 0; i < 1000 && !done.done; ++i) a.queue->process_completions(std::chrono::milliseconds(10));
  ASSERT_TRUE(done.done);
  ASSERT_TRUE(done.status.ok()) << done.status.to_string();
  EXPECT_EQ(std::memcmp(p1.data(), data.data(), p1.size()), 0);
  EXPECT_EQ(std::memcmp(p2.data(), data.data() + p1.size(), p2.size()), 0);
}

TEST_F(InitiatorFunctional, WriteZeroesDeallocateAndCompare) {
  Attached a(target_->options(kNqnB));
  ASSERT_TRUE(a.queue);
  const Namespace& ns = a.ctrl->namespaces()[0];
  auto data = random_bytes(8 * ns.block_size, 5);
  std::vector<std::uint8_t> zeros(data.size(), 0), back(data.size());

  ASSERT_TRUE(a.queue->write_sync(ns, 0, 8, data.data()).ok());
  EXPECT_TRUE(a.queue->compare_sync(ns, 0, 8, data.data()).ok());
  auto other = data;
  other[ns.block_size * 3 + 17] ^= 0xFF;
  nvme::Status miscompare = a.queue->compare_sync(ns, 0, 8, other.data());
  EXPECT_EQ(miscompare.sct(), NVME_SCT_MEDIA) << miscompare.to_string();
  EXPECT_EQ(miscompare.sc(), NVME_SC_COMPARE_FAILED) << miscompare.to_string();

  ASSERT_TRUE(a.queue->write_zeroes_sync(ns, 2, 4).ok());
  ASSERT_TRUE(a.queue->read_sync(ns, 0, 8, back.data()).ok());
  EXPECT_EQ(std::memcmp(back.data(), data.data(), 2 * ns.block_size), 0);
  EXPECT_EQ(std::memcmp(back.data() + 2 * ns.block_size, zeros.data(), 4 * ns.block_size), 0);
  EXPECT_EQ(std::memcmp(back.data() + 6 * ns.block_size, data.data() + 6 * ns.block_size, 2 * ns.block_size), 0);

  // Deallocate: what a read returns afterwards is what DLFEAT promises (001b: zeroes).
  ASSERT_TRUE(a.queue->write_sync(ns, 0, 8, data.data()).ok());
  nvme_dsm_range ranges[2] = {{0, 2, 0}, {0, 2, 5}};
  ASSERT_TRUE(a.queue->deallocate_sync(ns, ranges, 2).ok());
  auto id = std::make_unique<nvme_id_ns>();
  ASSERT_TRUE(a.ctrl->identify_namespace(ns.nsid, id.get()).ok());
  ASSERT_TRUE(a.queue->read_sync(ns, 0, 8, back.data()).ok());
  EXPECT_EQ(std::memcmp(back.data() + 2 * ns.block_size, data.data() + 2 * ns.block_size, 3 * ns.block_size), 0);
  if ((id->dlfeat & 0x7) == 1) {
    EXPECT_EQ(std::memcmp(back.data(), zeros.data(), 2 * ns.block_size), 0);
    EXPECT_EQ(std::memcmp(back.data() + 5 * ns.block_size, zeros.data(), 2 * ns.block_size), 0);
  }
}

TEST_F(InitiatorFunctional, OutOfRangeIoIsRefusedBeforeTheWire) {
  Attached a(target_->options(kNqnB));
  ASSERT_TRUE(a.queue);
  const Namespace& ns = a.ctrl->namespaces()[0];
  std::vector<std::uint8_t> buf(ns.block_size);
  nvme::Status s = a.queue->read_sync(ns, ns.capacity_blocks, 1, buf.data());
  EXPECT_FALSE(s.ok());
  // The controller's own range check: a namespace view claiming more blocks than exist.
  Namespace lying = ns;
  lying.capacity_blocks += 100;
  s = a.queue->read_sync(lying, ns.capacity_blocks, 1, buf.data());
  EXPECT_EQ(s.sct(), NVME_SCT_GENERIC) << s.to_string();
  EXPECT_EQ(s.sc(), NVME_SC_LBA_RANGE) << s.to_string();
  EXPECT_TRUE(a.queue->alive());
}

TEST_F(InitiatorFunctional, DigestsOnRoundTrip) {
  auto o = target_->options(kNqnA, 1);
  o.header_digest = true;
  o.data_digest = true;
  Attached a(o);
  ASSERT_TRUE(a.queue);
  const Namespace& ns = a.ctrl->namespaces()[1];
  for (std::size_t bytes : {std::size_t(4096), std::size_t(256 << 10)}) {
    const auto nlb = static_cast<std::uint32_t>(bytes / ns.block_size);
    auto data = random_bytes(bytes, 11);
    ASSERT_TRUE(a.queue->write_sync(ns, 64, nlb, data.data()).ok());
    std::vector<std::uint8_t> back(bytes);
    ASSERT_TRUE(a.queue->read_sync(ns, 64, nlb, back.data()).ok());
    EXPECT_EQ(back, data);
  }
}

TEST_F(InitiatorFunctional, SeveralQueuesOnSeveralThreads) {
  auto o = target_->options(kNqnA);
  o.nr_io_queues = 4;
  auto ctrl = connect(o);
  ASSERT_TRUE(ctrl);
  ASSERT_GE(ctrl->io_queues_granted(), 4);
  const Namespace ns = ctrl->namespaces()[0];
  constexpr unsigned kThreads = 4;
  std::vector<std::unique_ptr<fabric::Reactor>> reactors;
  std::vector<std::unique_ptr<IoQueue>> queues;
  for (unsigned i = 0; i < kThreads; ++i) {
    reactors.push_back(std::make_unique<fabric::Reactor>(i + 1));
    Error e;
    queues.push_back(ctrl->create_io_queue(*reactors.back(), &e));
    ASSERT_TRUE(queues.back()) << e.to_string();
  }
  std::atomic<unsigned> failures{0};
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Each thread owns its queue and a disjoint LBA range: 64 writes of 16 blocks, then reads verified.
      const std::uint64_t base = t * 4096;
      std::vector<std::uint8_t> buf(16 * ns.block_size);
      for (unsigned i = 0; i < 64; ++i) {
        fill_verify_blocks(buf.data(), ns.block_size, base + i * 16, 16, 77 + t);
        if (!queues[t]->write_sync(ns, base + i * 16, 16, buf.data()).ok()) ++failures;
      }
      for (unsigned i = 0; i < 64; ++i) {
        if (!queues[t]->read_sync(ns, base + i * 16, 16, buf.data()).ok() ||
            !check_verify_blocks(buf.data(), ns.block_size, base + i * 16, 16, 77 + t))
          ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0u);
  queues.clear();
  EXPECT_FALSE(ctrl->shutdown());
}

TEST_F(InitiatorFunctional, VerifiedPerfRunIsClean) {
  auto o = target_->options(kNqnA);
  o.nr_io_queues = 2;
  auto ctrl = connect(o);
  ASSERT_TRUE(ctrl);
  PerfConfig c;
  c.pattern = PerfPattern::randread;
  c.io_size = 8192;
  c.queue_depth = 16;
  c.queues = 2;
  c.verify = true;
  c.time = std::chrono::milliseconds(1500);
  c.region_bytes = 8 << 20;
  Error e;
  PerfResult r = run_perf(*ctrl, ctrl->namespaces()[0], c, {}, &e);
  ASSERT_FALSE(e) << e.to_string();
  EXPECT_TRUE(r.ok()) << r.first_error;
  ASSERT_EQ(r.phases.size(), 2u);
  EXPECT_EQ(r.phases[0].writes, (8u << 20) / 8192);  // the whole region written once
  EXPECT_GT(r.phases[1].reads, 0u);
  EXPECT_GT(r.phases[1].latency.percentile(99), 0u);
}

TEST_F(InitiatorFunctional, KeepAliveKeepsAnIdleAssociation) {
  auto o = target_->options(kNqnB);
  o.keep_alive_timeout_ms = 1000;  // the target drops the controller after 1 s without a command
  Attached a(o);
  ASSERT_TRUE(a.queue);
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(2600);
  while (std::chrono::steady_clock::now() < end) a.ctrl->poll(std::chrono::milliseconds(50));
  EXPECT_GE(a.ctrl->keep_alive().sent(), 3u);
  EXPECT_TRUE(a.ctrl->alive()) << a.ctrl->keep_alive().failure();
  std::vector<std::uint8_t> buf(4096);
  EXPECT_TRUE(a.queue->read_sync(a.ctrl->namespaces()[0], 0, 1, buf.data()).ok());
}

TEST_F(InitiatorFunctional, HostNotAllowedIsRejectedWithInvalidHost) {
  auto o = target_->options(kNqnAcl);
  Error error;
  auto ctrl = Controller::connect(o, &error);
  ASSERT_FALSE(ctrl);
  EXPECT_EQ(error.status.sct(), NVME_SCT_CMD_SPECIFIC) << error.to_string();
  EXPECT_EQ(error.status.sc(), NVME_SC_CONNECT_INVALID_HOST) << error.to_string();

  o.hostnqn = kAllowedHost;
  auto allowed = Controller::connect(o, &error);
  ASSERT_TRUE(allowed) << error.to_string();
  EXPECT_FALSE(allowed->shutdown());
}

TEST_F(InitiatorFunctional, UnknownSubsystemIsRefused) {
  Error error;
  auto ctrl = Controller::connect(target_->options("nqn.2024-01.io.nvmf.test:nobody"), &error);
  ASSERT_FALSE(ctrl);
  EXPECT_EQ(error.status.sct(), NVME_SCT_CMD_SPECIFIC) << error.to_string();
  EXPECT_EQ(error.status.sc(), NVME_SC_CONNECT_INVALID_PARAM) << error.to_string();
  EXPECT_NE(error.message.find("Connect"), std::string::npos);
}

TEST_F(InitiatorFunctional, DiscoveryListsEverySubsystemOnEveryListener) {
  auto o = target_->options(nvme::kDiscoveryNqn);
  o.keep_alive_timeout_ms = 0;
  DiscoveryLog log;
  Error e = discover(o, &log);
  ASSERT_FALSE(e) << e.to_string();
  for (const char* nqn : {kNqnA, kNqnB}) {
    for (const auto& ep : target_->endpoints()) {
      auto it = std::find_if(log.entries.begin(), log.entries.end(), [&](const DiscoveryEntry& d) {
        return d.subnqn == nqn && d.traddr == ep.traddr && d.trsvcid == ep.trsvcid;
      });
      ASSERT_NE(it, log.entries.end()) << nqn << " at " << ep.traddr << ":" << ep.trsvcid;
      EXPECT_EQ(it->trtype, NVMF_TRTYPE_TCP);
      EXPECT_EQ(it->adrfam, NVMF_ADDR_FAMILY_IP4);
      EXPECT_EQ(it->subtype, NVME_NQN_NVME);
    }
  }
  // Reading twice without a change gives the same generation.
  DiscoveryLog again;
  ASSERT_FALSE(discover(o, &again));
  EXPECT_EQ(again.genctr, log.genctr);
  EXPECT_EQ(again.entries.size(), log.entries.size());
}
