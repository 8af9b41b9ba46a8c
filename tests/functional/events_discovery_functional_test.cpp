// The library against in-process targets: asynchronous events (a namespace added and removed on the target
// reaches the host as a Namespace Attribute Changed notice, the namespace list follows and the application's
// callback runs), keep-alive at KATO/2, a discovery-log change on a persistent discovery connection, and
// discovery across a referral with attach of everything found; the C API's view of namespace changes.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <thread>
#include <vector>

#include "initiator/controller.hpp"
#include "initiator/discovery.hpp"
#include "initiator/discovery_walk.hpp"
#include "nvme/fabrics.hpp"
#include "nvmf/host.h"
#include "target/target.hpp"
#include "tests/functional/target_fixture.hpp"

using namespace nvmf;
using namespace nvmf::initiator;
using Clock = std::chrono::steady_clock;

namespace {
constexpr const char* kNqnA = "nqn.2024-01.io.nvmf.test:events-a";
constexpr const char* kNqnB = "nqn.2024-01.io.nvmf.test:events-b";

test::TargetSpec one_subsystem(const char* nqn) {
  test::TargetSpec spec;
  test::SubsystemSpec s;
  s.nqn = nqn;
  s.namespaces = {test::NamespaceSpec{8ull << 20, 512}};
  spec.subsystems = {s};
  return spec;
}

// Poll `ctrl` until `done` or 5 s.
template <typename Done>
bool poll_until(Controller& ctrl, Done&& done) {
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (Clock::now() < deadline && !done()) ctrl.poll(std::chrono::milliseconds(20));
  return done();
}
}  // namespace

TEST(EventsFunctional, NamespaceChangesReachTheHostThroughAsyncEvents) {
  test::EmbeddedTarget target;
  std::string error;
  ASSERT_TRUE(target.start(one_subsystem(kNqnA), &error)) << error;
  Error e;
  auto ctrl = Controller::connect(target.options(kNqnA), &e);
  ASSERT_TRUE(ctrl) << e.to_string();
  ASSERT_EQ(ctrl->namespaces().size(), 1u);
  std::vector<ControllerEvent> events;
  ctrl->set_event_callback([&](const ControllerEvent& ev) { events.push_back(ev); });

  target::NamespaceConfig ns;
  ns.size = 4ull << 20;
  ns.block_size = 4096;
  const std::uint32_t nsid = target.target().add_namespace(kNqnA, ns);
  ASSERT_TRUE(poll_until(*ctrl, [&] { return !events.empty(); })) << "no asynchronous event within 5 s";
  EXPECT_EQ(events[0].type, ControllerEvent::Type::namespaces_changed);
  EXPECT_EQ(events[0].aen_dw0 & 0x7, unsigned(NVME_AER_NOTICE));
  EXPECT_EQ((events[0].aen_dw0 >> 16) & 0xff, unsigned(NVME_LOG_LID_CHANGED_NS));
  ASSERT_EQ(ctrl->namespaces().size(), 2u);
  const Namespace* added = ctrl->find_namespace(nsid);
  ASSERT_NE(added, nullptr);
  EXPECT_EQ(added->block_size, 4096u);
  EXPECT_EQ(added->capacity_blocks, 1024u);

  // The host read the Changed Namespace List (re-arming the notice), so a second change is reported too.
  events.clear();
  target.target().remove_namespace(kNqnA, nsid);
  ASSERT_TRUE(poll_until(*ctrl, [&] { return !events.empty(); })) << "the second change was not reported";
  EXPECT_EQ(events[0].type, ControllerEvent::Type::namespaces_changed);
  EXPECT_EQ(ctrl->namespaces().size(), 1u);
  EXPECT_EQ(ctrl->find_namespace(nsid), nullptr);
  EXPECT_GE(ctrl->async_events_received(), 2u);
  EXPECT_TRUE(ctrl->alive());
}

TEST(EventsFunctional, KeepAliveRunsAtHalfTheTimeout) {
  test::EmbeddedTarget target;
  std::string error;
  ASSERT_TRUE(target.start(one_subsystem(kNqnA), &error)) << error;
  auto o = target.options(kNqnA);
  o.keep_alive_timeout_ms = 800;  // Keep Alive every 400 ms
  Error e;
  auto ctrl = Controller::connect(o, &e);
  ASSERT_TRUE(ctrl) << e.to_string();
  const auto end = Clock::now() + std::chrono::milliseconds(2100);
  while (Clock::now() < end) ctrl->poll(std::chrono::milliseconds(20));
  // 2.1 s / 0.4 s: five sent; fewer means a longer interval (the target would expire the controller), many
  // more a timer that fires early.
  EXPECT_GE(ctrl->keep_alive().sent(), 4u);
  EXPECT_LE(ctrl->keep_alive().sent(), 6u);
  EXPECT_TRUE(ctrl->alive());
}

TEST(EventsFunctional, PersistentDiscoveryConnectionSeesLogChanges) {
  test::EmbeddedTarget target;
  std::string error;
  ASSERT_TRUE(target.start(one_subsystem(kNqnA), &error)) << error;
  auto o = target.options(nvme::kDiscoveryNqn);
  o.keep_alive_timeout_ms = 5000;  // persistent, as `nvme discover --persistent`
  o.nr_io_queues = 0;
  Error e;
  auto ctrl = Controller::connect(o, &e);
  ASSERT_TRUE(ctrl) << e.to_string();
  std::vector<ControllerEvent> events;
  ctrl->set_event_callback([&](const ControllerEvent& ev) { events.push_back(ev); });
  target::SubsystemConfig sub;
  sub.nqn = kNqnB;
  target.target().add_subsystem(sub);
  ASSERT_TRUE(poll_until(*ctrl, [&] { return !events.empty(); })) << "no discovery log change event";
  EXPECT_EQ(events[0].type, ControllerEvent::Type::discovery_changed);
  DiscoveryLog log;
  ASSERT_FALSE(read_discovery_log(*ctrl, &log));
  EXPECT_TRUE(std::any_of(log.entries.begin(), log.entries.end(), [](auto& en) { return en.subnqn == kNqnB; }));
}

TEST(DiscoveryFunctional, ReferralsAreFollowedAndEverySubsystemAttached) {
  test::EmbeddedTarget a, b;
  std::string error;
  ASSERT_TRUE(a.start(one_subsystem(kNqnA), &error)) << error;
  ASSERT_TRUE(b.start(one_subsystem(kNqnB), &error)) << error;
  target::ReferralConfig referral;
  referral.address.traddr = b.endpoint().traddr;
  referral.address.trsvcid = b.endpoint().trsvcid;
  referral.portid = 7;
  a.target().add_referral(referral);
  // And a referral back: the walk must not loop.
  target::ReferralConfig back;
  back.address.traddr = a.endpoint().traddr;
  back.address.trsvcid = a.endpoint().trsvcid;
  b.target().add_referral(back);

  DiscoveryWalk walk;
  ASSERT_FALSE(walk_discovery(a.options(nvme::kDiscoveryNqn), &walk));
  EXPECT_EQ(walk.visited.size(), 2u);
  EXPECT_TRUE(walk.errors.empty());
  auto subsystems = walk.subsystems();
  auto has = [&](const char* nqn) {
    return std::any_of(subsystems.begin(), subsystems.end(), [&](auto& e) { return e.subnqn == nqn; });
  };
  EXPECT_TRUE(has(kNqnA));
  EXPECT_TRUE(has(kNqnB)) << "the subsystem behind the referral is missing";
  EXPECT_TRUE(std::any_of(walk.entries.begin(), walk.entries.end(),
                          [](auto& e) { return e.subtype == NVME_NQN_DISC && e.portid == 7; }));

  DiscoveryWalk shallow;
  ASSERT_FALSE(walk_discovery(a.options(nvme::kDiscoveryNqn), &shallow, 0));
  EXPECT_EQ(shallow.visited.size(), 1u);

  auto reports = attach_all(subsystems, a.options(""));
  ASSERT_EQ(reports.size(), subsystems.size());
  for (const auto& r : reports) {
    EXPECT_FALSE(r.error) << r.entry.subnqn << ": " << r.error.to_string();
    EXPECT_EQ(r.namespaces.size(), 1u) << r.entry.subnqn;
    EXPECT_EQ(r.io_queues, 1u);
  }

  // A referral nobody answers is reported and the rest still listed.
  b.stop();
  DiscoveryWalk partial;
  ASSERT_FALSE(walk_discovery(a.options(nvme::kDiscoveryNqn), &partial));
  EXPECT_EQ(partial.errors.size(), 1u);
  EXPECT_EQ(partial.subsystems().size(), 1u);
}

namespace {
struct CEvents {
  std::atomic<int> ns_changed{0};
};
void on_c_event(void* arg, nvmf_ctrl*, const nvmf_event* event) {
  if (event->type == NVMF_EVENT_NS_CHANGED) static_cast<CEvents*>(arg)->ns_changed.fetch_add(1);
}
}  // namespace

TEST(EventsFunctional, CApiReportsNamespaceChangesAndKeepsHandles) {
  test::EmbeddedTarget target;
  std::string error;
  ASSERT_TRUE(target.start(one_subsystem(kNqnA), &error)) << error;
  const auto o = target.options(kNqnA);
  nvmf_ctrl_opts opts;
  nvmf_ctrl_opts_init(&opts, sizeof opts);
  opts.traddr = o.traddr.c_str();
  opts.trsvcid = o.trsvcid.c_str();
  opts.subnqn = kNqnA;
  nvmf_ctrl* ctrl = nullptr;
  char err[256] = "";
  ASSERT_EQ(nvmf_ctrl_connect(&opts, &ctrl, err, sizeof err), 0) << err;
  CEvents events;
  nvmf_ctrl_set_event_cb(ctrl, &on_c_event, &events);
  nvmf_ns* first = nvmf_ctrl_get_ns(ctrl, 1);
  ASSERT_NE(first, nullptr);

  target::NamespaceConfig ns;
  ns.size = 2ull << 20;
  const std::uint32_t nsid = target.target().add_namespace(kNqnA, ns);
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (Clock::now() < deadline && events.ns_changed.load() == 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // the library's admin thread handles it
  ASSERT_EQ(events.ns_changed.load(), 1);
  EXPECT_EQ(nvmf_ctrl_next_nsid(ctrl, 1), nsid);
  nvmf_ns* added = nvmf_ctrl_get_ns(ctrl, nsid);
  ASSERT_NE(added, nullptr);
  EXPECT_TRUE(nvmf_ns_is_active(added));
  EXPECT_EQ(nvmf_ns_get_size(added), 2ull << 20);
  EXPECT_EQ(nvmf_ctrl_get_ns(ctrl, 1), first) << "existing handles stay the same";

  target.target().remove_namespace(kNqnA, nsid);
  const auto deadline2 = Clock::now() + std::chrono::seconds(5);
  while (Clock::now() < deadline2 && events.ns_changed.load() < 2)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(events.ns_changed.load(), 2);
  EXPECT_FALSE(nvmf_ns_is_active(added)) << "a removed namespace's handle stays valid but inactive";
  EXPECT_EQ(nvmf_ctrl_next_nsid(ctrl, 1), 0u);
  nvmf_qpair* qp = nvmf_qpair_create(ctrl, 4, err, sizeof err);
  ASSERT_NE(qp, nullptr) << err;
  std::vector<std::uint8_t> buf(512);
  EXPECT_EQ(nvmf_qpair_read_sync(qp, added, buf.data(), 0, 1), -ENXIO);
  EXPECT_EQ(nvmf_qpair_read_sync(qp, first, buf.data(), 0, 1), 0);
  nvmf_qpair_destroy(qp);
  EXPECT_EQ(nvmf_ctrl_disconnect(ctrl), 0);
}
