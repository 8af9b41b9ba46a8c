// Live configuration changes on a target that is serving: namespaces added and removed (Namespace Attribute
// Changed notices, log page 04h, Invalid Namespace for new I/O, in-flight commands drained), subsystems and
// hosts added and removed (discovery log change notices, controllers closed), listeners added and removed.
#include <deque>

#include "target_fixture.hpp"

namespace nvmf::test {
namespace {

constexpr std::uint32_t kNsNotice = NVME_AER_NOTICE | NVME_AER_NOTICE_NS_CHANGED << 8 | NVME_LOG_LID_CHANGED_NS << 16;

class LiveTest : public TargetTest {
 protected:
  void SetUp() override {
    target::TargetConfig c;
    c.listeners.push_back(target::parse_listen_address("tcp:127.0.0.1:0"));
    c.subsystems.push_back(ram_subsystem(kSubNqn, 1 << 20, 512, 2));
    target_ = std::make_unique<target::Target>(c);
    registry_ = target_->registry();
    factory_ = std::make_unique<target::SessionFactory>(registry_);
    admin_ = new_queue();
    cntlid_ = connect_and_enable(*admin_);
    io_ = new_queue();
    ASSERT_TRUE(connect_io(*io_, cntlid_, 1).status().ok());
  }

  static target::NamespaceConfig ram_ns(std::uint32_t nsid = 0) {
    target::NamespaceConfig ns;
    ns.kind = target::BackendKind::ram;
    ns.size = 1 << 20;
    ns.nsid = nsid;
    return ns;
  }

  void enable_ns_notices() {
    ASSERT_TRUE(admin_->run(admin_sqe(nvme_admin_set_features, 0, NVME_FEAT_FID_ASYNC_EVENT, NVME_CTRL_OAES_NA))
                    .status()
                    .ok());
  }

  std::vector<std::uint32_t> changed_log(bool rae = false) {
    auto c = admin_->run(get_log_sqe(NVME_LOG_LID_CHANGED_NS, 4096, 0, NVME_NSID_ALL, rae), 4096);
    EXPECT_TRUE(c.status().ok());
    std::vector<std::uint32_t> out;
    for (std::size_t i = 0; i < 1024; ++i) {
      std::uint32_t id;
      std::memcpy(&id, c.data.data() + 4 * i, 4);
      if (!id) break;
      out.push_back(id);
    }
    return out;
  }

  std::unique_ptr<target::Target> target_;
  std::unique_ptr<FakeQueue> admin_, io_;
  std::uint16_t cntlid_ = 0;
};

TEST_F(LiveTest, AddedNamespaceRaisesNoticeAndServesIo) {
  enable_ns_notices();
  admin_->submit(admin_sqe(nvme_admin_async_event));
  EXPECT_EQ(target_->add_namespace(kSubNqn, ram_ns()), 3u);  // lowest free NSID
  ASSERT_TRUE(admin_->wait_for(1));
  EXPECT_EQ(admin_->completions().front().cqe.dw0, kNsNotice);
  admin_->completions().clear();
  // RAE keeps the list (and the mask); a plain read clears both.
  EXPECT_EQ(changed_log(true), std::vector<std::uint32_t>{3});
  EXPECT_EQ(changed_log(), std::vector<std::uint32_t>{3});
  EXPECT_TRUE(changed_log().empty());
  drain();
  std::vector<std::byte> data(512, std::byte{0x42});
  EXPECT_TRUE(io_->run(io_sqe(nvme_cmd_write, 3, 7, 1), 512, data.data()).status().ok());
  auto r = io_->run(io_sqe(nvme_cmd_read, 3, 7, 1), 512);
  ASSERT_TRUE(r.status().ok());
  EXPECT_EQ(r.data, data);
  // I/O on the other namespaces went on undisturbed.
  EXPECT_TRUE(io_->run(io_sqe(nvme_cmd_read, 1, 0, 1), 512).status().ok());
}

TEST_F(LiveTest, RemovedNamespaceFailsNewIoWithInvalidNamespace) {
  target_->remove_namespace(kSubNqn, 2);
  drain();
  EXPECT_TRUE(io_->run(io_sqe(nvme_cmd_read, 2, 0, 1), 512).status().same_code(nvme::Status::generic(NVME_SC_INVALID_NS)));
  EXPECT_TRUE(io_->run(io_sqe(nvme_cmd_read, 1, 0, 1), 512).status().ok());
  EXPECT_EQ(as<nvme_id_ns>(admin_->run(identify_sqe(NVME_IDENTIFY_CNS_NS, 2), 4096)).nsze, 0u);
  EXPECT_EQ(changed_log(), std::vector<std::uint32_t>{2});  // recorded even with notices disabled
  try {
    target_->remove_namespace(kSubNqn, 2);
    ADD_FAILURE();
  } catch (const target::ConfigError& e) {
    EXPECT_EQ(e.field(), "nsid");
  }
}

TEST_F(LiveTest, NoticesRespectTheConfigurationAndTheMask) {
  // Disabled in Set Features 0Bh: no notice, but the log still lists the change.
  admin_->submit(admin_sqe(nvme_admin_async_event));
  target_->add_namespace(kSubNqn, ram_ns(10));
  drain();
  EXPECT_TRUE(admin_->completions().empty());
  enable_ns_notices();
  target_->add_namespace(kSubNqn, ram_ns(11));
  ASSERT_TRUE(admin_->wait_for(1));
  admin_->completions().clear();
  // Masked until log 04h is read: a second change raises nothing.
  admin_->submit(admin_sqe(nvme_admin_async_event));
  target_->remove_namespace(kSubNqn, 10);
  drain();
  EXPECT_TRUE(admin_->completions().empty());
  EXPECT_EQ(changed_log(), (std::vector<std::uint32_t>{10, 11}));
  target_->remove_namespace(kSubNqn, 11);
  ASSERT_TRUE(admin_->wait_for(1));
  EXPECT_EQ(admin_->completions().front().cqe.dw0, kNsNotice);
}

TEST_F(LiveTest, MaskedNamespaceChangesOnlyConcernItsHosts) {
  enable_ns_notices();
  admin_->submit(admin_sqe(nvme_admin_async_event));
  auto ns = ram_ns(5);
  ns.hosts = {kOtherHostNqn};
  target_->add_namespace(kSubNqn, ns);
  drain();
  EXPECT_TRUE(admin_->completions().empty());  // not visible to this host: nothing changed for it
  EXPECT_TRUE(changed_log().empty());
}

TEST_F(LiveTest, RefusedChangesApplyNothing) {
  auto bad = ram_ns(1);
  try {
    target_->add_namespace(kSubNqn, bad);
    ADD_FAILURE();
  } catch (const target::ConfigError& e) {
    EXPECT_EQ(e.field(), "namespace.nsid");
  }
  target::NamespaceConfig missing;
  missing.kind = target::BackendKind::file;
  missing.path = "/nonexistent/x.img";
  try {
    target_->add_namespace(kSubNqn, missing);
    ADD_FAILURE();
  } catch (const target::ConfigError& e) {
    EXPECT_EQ(e.field(), "namespace.path");
  }
  EXPECT_EQ(registry_->find(kSubNqn)->namespaces()->all().size(), 2u);
  EXPECT_THROW(target_->add_namespace("nqn.2024-01.io.nvmf:none", ram_ns()), target::ConfigError);
  auto dup = ram_subsystem(kSubNqn);
  EXPECT_THROW(target_->add_subsystem(dup), target::ConfigError);
  auto bad_sub = ram_subsystem("not-an-nqn");
  try {
    target_->add_subsystem(bad_sub);
    ADD_FAILURE();
  } catch (const target::ConfigError& e) {
    EXPECT_EQ(e.field(), "subsystem.nqn");
  }
  EXPECT_EQ(registry_->subsystems().size(), 1u);
}

TEST_F(LiveTest, SubsystemsAndHostsChangeTheDiscoveryLog) {
  auto disc = new_queue();
  ASSERT_TRUE(connect(*disc, 0, 31, connect_data(kHostNqn, nvme::kDiscoveryNqn)).status().ok());
  ASSERT_TRUE(disc->run(property_set(NVME_REG_CC, cc_enable())).status().ok());
  ASSERT_TRUE(disc->run(admin_sqe(nvme_admin_set_features, 0, NVME_FEAT_FID_ASYNC_EVENT, NVME_CTRL_OAES_DL)).status().ok());
  disc->submit(admin_sqe(nvme_admin_async_event));
  const auto gen = registry_->generation();
  target_->add_subsystem(ram_subsystem("nqn.2024-01.io.nvmf:new"));
  EXPECT_GT(registry_->generation(), gen);
  ASSERT_TRUE(disc->wait_for(1));
  EXPECT_EQ((disc->completions().front().cqe.dw0 >> 8) & 0xFF, NVME_AER_NOTICE_DISC_CHANGED);
  disc->completions().clear();
  // Masked until the discovery log is read.
  disc->submit(admin_sqe(nvme_admin_async_event));
  target_->remove_subsystem("nqn.2024-01.io.nvmf:new");
  drain();
  EXPECT_TRUE(disc->completions().empty());
  ASSERT_TRUE(disc->run(get_log_sqe(NVME_LOG_LID_DISCOVER, 1024, 0, 0), 1024).status().ok());
  // A host change that concerns another host does not notify this one.
  target_->add_subsystem(ram_subsystem("nqn.2024-01.io.nvmf:acl", 1 << 20, 512, 1));
  ASSERT_TRUE(disc->wait_for(1));
  disc->completions().clear();
  ASSERT_TRUE(disc->run(get_log_sqe(NVME_LOG_LID_DISCOVER, 1024, 0, 0), 1024).status().ok());
  disc->submit(admin_sqe(nvme_admin_async_event));
  target_->add_host("nqn.2024-01.io.nvmf:acl", kOtherHostNqn);  // first host: this host loses access
  ASSERT_TRUE(disc->wait_for(1));
  disc->completions().clear();
  ASSERT_TRUE(disc->run(get_log_sqe(NVME_LOG_LID_DISCOVER, 1024, 0, 0), 1024).status().ok());
  disc->submit(admin_sqe(nvme_admin_async_event));
  target_->add_host("nqn.2024-01.io.nvmf:acl", "nqn.2014-08.org.nvmexpress:uuid:third");
  drain();
  EXPECT_TRUE(disc->completions().empty());
}

TEST_F(LiveTest, RemovingSubsystemOrHostClosesTheirControllers) {
  target_->add_host(kSubNqn, kHostNqn);  // this host stays allowed
  drain();
  EXPECT_FALSE(admin_->closed());
  auto other = new_queue();
  connect_and_enable(*other, kSubNqn, kHostNqn);
  target_->remove_host(kSubNqn, kHostNqn);  // list empty again: any host, nothing closed
  drain();
  EXPECT_FALSE(admin_->closed());
  target_->add_host(kSubNqn, kOtherHostNqn);  // now only the other host: ours are closed
  drain();
  EXPECT_TRUE(admin_->closed());
  EXPECT_TRUE(io_->closed());
  EXPECT_TRUE(other->closed());
  EXPECT_TRUE(connect(*new_queue(), 0, 31, connect_data(kHostNqn, kSubNqn))
                  .status()
                  .same_code(nvme::Status::command_specific(NVME_SC_CONNECT_INVALID_HOST)));
  auto q = new_queue();
  connect_and_enable(*q, kSubNqn, kOtherHostNqn);
  target_->remove_subsystem(kSubNqn);
  drain();
  EXPECT_TRUE(q->closed());
  EXPECT_EQ(registry_->find(kSubNqn), nullptr);
}

/// Holds every operation until released, to observe commands in flight across a namespace removal.
class GatedBackend final : public target::Backend {
 public:
  std::uint64_t size_bytes() const override { return 1 << 20; }
  std::string describe() const override { return "gated"; }
  void read(fabric::Reactor&, target::BackendIo& io, std::uint64_t, std::byte*, std::uint32_t) override { held.push_back(&io); }
  void write(fabric::Reactor&, target::BackendIo& io, std::uint64_t, const std::byte*, std::uint32_t, bool) override {
    held.push_back(&io);
  }
  void flush(fabric::Reactor&, target::BackendIo& io) override { held.push_back(&io); }
  void write_zeroes(fabric::Reactor&, target::BackendIo& io, std::uint64_t, std::uint64_t) override { held.push_back(&io); }
  void deallocate(fabric::Reactor&, target::BackendIo& io, std::uint64_t, std::uint64_t) override { held.push_back(&io); }
  int sync() override { return 0; }
  void release() {
    while (!held.empty()) {
      auto* io = held.front();
      held.pop_front();
      io->done(*io, 0);
    }
  }
  std::deque<target::BackendIo*> held;
};

TEST_F(LiveTest, InFlightCommandsDrainAfterRemoval) {
  // Install a gated namespace 9 the way Target::add_namespace does, then remove it through the Target.
  auto gated = std::make_shared<GatedBackend>();
  std::weak_ptr<GatedBackend> weak = gated;
  auto ns = std::make_shared<target::Namespace>();
  ns->nsid = 9;
  ns->backend = gated;
  ns->blocks = gated->size_bytes() / 512;
  auto subsystem = registry_->find(kSubNqn);
  subsystem->set_namespaces(subsystem->namespaces()->with(ns));
  ns.reset();
  for (auto& c : subsystem->controllers()) c->refresh_namespaces();
  drain();
  io_->submit(io_sqe(nvme_cmd_read, 9, 0, 1), 512);
  io_->submit(io_sqe(nvme_cmd_flush, 9, 0, 1));
  drain();
  ASSERT_EQ(gated->held.size(), 2u);
  gated.reset();
  target_->remove_namespace(kSubNqn, 9);
  drain();
  EXPECT_TRUE(io_->run(io_sqe(nvme_cmd_read, 9, 0, 1), 512).status().same_code(nvme::Status::generic(NVME_SC_INVALID_NS)));
  // The backend lives while its commands run, and goes once they complete.
  ASSERT_FALSE(weak.expired());
  EXPECT_TRUE(io_->completions().empty());
  weak.lock()->release();
  ASSERT_TRUE(io_->wait_for(2));
  for (auto& c : io_->completions()) EXPECT_TRUE(c.status().ok());
  EXPECT_TRUE(weak.expired());
}

TEST_F(LiveTest, KeepAliveExpiryDrainsIoAndHostReconnects) {
  auto gated = std::make_shared<GatedBackend>();
  auto ns = std::make_shared<target::Namespace>();
  ns->nsid = 9;
  ns->backend = gated;
  ns->blocks = gated->size_bytes() / 512;
  auto subsystem = registry_->find(kSubNqn);
  subsystem->set_namespaces(subsystem->namespaces()->with(ns));
  auto admin = new_queue();
  auto cntlid = connect_and_enable(*admin, kSubNqn, kOtherHostNqn, 100);
  auto io = new_queue();
  ASSERT_TRUE(connect_io(*io, cntlid, 1, 127, kSubNqn, kOtherHostNqn).status().ok());
  io->submit(io_sqe(nvme_cmd_write, 9, 0, 1), 512, std::vector<std::byte>(512).data());
  drain();
  ASSERT_EQ(gated->held.size(), 1u);
  // The host goes silent: past KATO the controller and its I/O queue are closed.
  for (int t = 0; t < 60 && !admin->closed(); ++t) reactor_.run_once(std::chrono::milliseconds(10));
  ASSERT_TRUE(admin->closed());
  drain();
  EXPECT_TRUE(io->closed());
  EXPECT_EQ(controller(cntlid, kSubNqn, kOtherHostNqn), nullptr);
  // The command in flight still completes exactly once (its reply is discarded by the transport).
  gated->release();
  ASSERT_TRUE(io->wait_for(1));
  EXPECT_EQ(io->outstanding(), 0u);
  // Same host NQN reconnects and gets a working controller.
  auto again = new_queue();
  auto second = connect_and_enable(*again, kSubNqn, kOtherHostNqn, 100);
  EXPECT_NE(controller(second, kSubNqn, kOtherHostNqn), nullptr);
  EXPECT_TRUE(again->run(admin_sqe(nvme_admin_keep_alive)).status().ok());
}

TEST_F(LiveTest, AbortCancelsOnlyAHeldAsyncEventRequest) {
  nvme::Sqe aer = admin_sqe(nvme_admin_async_event);
  aer.cid = 77;
  admin_->submit(aer);
  drain();
  EXPECT_TRUE(admin_->completions().empty());
  admin_->submit(admin_sqe(nvme_admin_abort_cmd, 0, 77u << 16 | 0));  // CID 0 aborts CID 77 on SQ 0
  ASSERT_TRUE(admin_->wait_for(2));
  auto& done = admin_->completions();
  // The AER completes first, as Command Abort Requested; then the Abort, DW0 bit 0 clear (aborted).
  EXPECT_EQ(done[0].cqe.cid, 77);
  EXPECT_TRUE(done[0].status().same_code(nvme::Status::generic(NVME_SC_ABORT_REQ)));
  EXPECT_EQ(done[1].cqe.cid, 0);
  EXPECT_TRUE(done[1].status().ok());
  EXPECT_EQ(done[1].cqe.dw0 & 1, 0u);
  done.clear();
  // Nothing else is abortable: not aborted.
  EXPECT_EQ(admin_->run(admin_sqe(nvme_admin_abort_cmd, 0, 77u << 16 | 0)).cqe.dw0 & 1, 1u);
  EXPECT_EQ(admin_->run(admin_sqe(nvme_admin_abort_cmd, 0, 5u << 16 | 1)).cqe.dw0 & 1, 1u);
}

TEST_F(LiveTest, ListenersAddAndRemoveWhileRunning) {
  target::TargetConfig c;
  c.listeners.push_back(target::parse_listen_address("tcp:127.0.0.1:0"));
  c.discovery_port = 0;
  c.cores = {0};
  c.subsystems.push_back(ram_subsystem(kSubNqn));
  target::Target t(c);
  t.start();
  auto bound = t.add_listener(target::parse_listen_address("tcp:127.0.0.1:0"), {kSubNqn});
  EXPECT_NE(bound.trsvcid, "0");
  ASSERT_EQ(t.listen_addresses().size(), 2u);
  auto ports = t.registry()->ports();
  ASSERT_EQ(ports.size(), 2u);
  EXPECT_EQ(ports[1].portid, 2);
  EXPECT_EQ(ports[1].only, std::vector<std::string>{kSubNqn});
  EXPECT_THROW(t.add_listener(bound), target::ConfigError);  // already listening
  auto saved = t.current_config();
  ASSERT_EQ(saved.listeners.size(), 2u);
  EXPECT_EQ(saved.listeners[1].trsvcid, bound.trsvcid);
  t.remove_listener(bound);
  EXPECT_EQ(t.listen_addresses().size(), 1u);
  EXPECT_EQ(t.registry()->ports().size(), 1u);
  EXPECT_THROW(t.remove_listener(bound), target::ConfigError);
  t.stop();
}

}  // namespace
}  // namespace nvmf::test
