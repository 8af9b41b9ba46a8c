// Per-host namespace masking (Identify, the active namespace list, I/O), ports that serve only some
// subsystems, and discovery referrals.
#include "target_fixture.hpp"

namespace nvmf::test {
namespace {

class MaskingTest : public TargetTest {
 protected:
  void SetUp() override {
    auto s = ram_subsystem(kSubNqn, 1 << 20, 512, 3);
    s.namespaces[1].hosts = {kOtherHostNqn};  // NSID 2: only the other host sees it
    make_registry({s});
  }

  std::vector<std::uint32_t> active_list(FakeQueue& admin) {
    auto c = admin.run(identify_sqe(NVME_IDENTIFY_CNS_NS_ACTIVE_LIST, 0), 4096);
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
};

TEST_F(MaskingTest, HiddenNamespaceIsInactiveForOtherHosts) {
  auto admin = new_queue();
  auto cntlid = connect_and_enable(*admin, kSubNqn, kHostNqn);
  EXPECT_EQ(active_list(*admin), (std::vector<std::uint32_t>{1, 3}));
  // Identify Namespace of an inactive NSID: zero-filled; the descriptor list: Invalid Namespace.
  auto id = as<nvme_id_ns>(admin->run(identify_sqe(NVME_IDENTIFY_CNS_NS, 2), 4096));
  EXPECT_EQ(id.nsze, 0u);
  EXPECT_TRUE(admin->run(identify_sqe(NVME_IDENTIFY_CNS_NS_DESC_LIST, 2), 4096)
                  .status()
                  .same_code(nvme::Status::generic(NVME_SC_INVALID_NS)));
  EXPECT_NE(as<nvme_id_ns>(admin->run(identify_sqe(NVME_IDENTIFY_CNS_NS, 3), 4096)).nsze, 0u);

  auto io = new_queue();
  ASSERT_TRUE(connect_io(*io, cntlid, 1).status().ok());
  EXPECT_TRUE(io->run(io_sqe(nvme_cmd_read, 2, 0, 1), 512).status().same_code(nvme::Status::generic(NVME_SC_INVALID_NS)));
  EXPECT_TRUE(io->run(io_sqe(nvme_cmd_read, 3, 0, 1), 512).status().ok());
}

TEST_F(MaskingTest, ListedHostSeesAndUsesIt) {
  auto admin = new_queue();
  auto cntlid = connect_and_enable(*admin, kSubNqn, kOtherHostNqn);
  EXPECT_EQ(active_list(*admin), (std::vector<std::uint32_t>{1, 2, 3}));
  EXPECT_EQ(as<nvme_id_ns>(admin->run(identify_sqe(NVME_IDENTIFY_CNS_NS, 2), 4096)).nsze, 2048u);
  auto io = new_queue();
  ASSERT_TRUE(connect_io(*io, cntlid, 1, 127, kSubNqn, kOtherHostNqn).status().ok());
  std::vector<std::byte> data(512, std::byte{0x5A});
  EXPECT_TRUE(io->run(io_sqe(nvme_cmd_write, 2, 0, 1), 512, data.data()).status().ok());
  auto r = io->run(io_sqe(nvme_cmd_read, 2, 0, 1), 512);
  ASSERT_TRUE(r.status().ok());
  EXPECT_EQ(r.data, data);
}

// An empty Host NQN (SPDK's host tools) is on no namespace's host list: it sees what every host sees.
TEST_F(MaskingTest, EmptyHostNqnSeesOnlyUnmaskedNamespaces) {
  auto admin = new_queue();
  auto cntlid = connect_and_enable(*admin, kSubNqn, "");
  EXPECT_EQ(active_list(*admin), (std::vector<std::uint32_t>{1, 3}));
  auto io = new_queue();
  ASSERT_TRUE(connect_io(*io, cntlid, 1, 127, kSubNqn, "").status().ok());
  EXPECT_TRUE(io->run(io_sqe(nvme_cmd_read, 2, 0, 1), 512).status().same_code(nvme::Status::generic(NVME_SC_INVALID_NS)));
  EXPECT_TRUE(io->run(io_sqe(nvme_cmd_read, 3, 0, 1), 512).status().ok());
}

class PortTest : public TargetTest {
 protected:
  void SetUp() override {
    make_registry({ram_subsystem("nqn.2024-01.io.nvmf:a"), ram_subsystem("nqn.2024-01.io.nvmf:b")});
    fabric::ListenAddress p1{fabric::TransportType::tcp, false, "127.0.0.1", "4420"};
    fabric::ListenAddress p2{fabric::TransportType::tcp, false, "127.0.0.1", "4421"};
    registry_->add_port({1, p1, true, {}});
    registry_->add_port({2, p2, true, {"nqn.2024-01.io.nvmf:b"}});
    registry_->add_referral({9, {fabric::TransportType::tcp, false, "10.0.0.5", "8009"}});
    port2_ = std::make_unique<target::SessionFactory>(registry_, 2);
  }
  std::unique_ptr<target::SessionFactory> port2_;
};

TEST_F(PortTest, ConnectOnlyWhereThePortServesTheSubsystem) {
  FakeQueue a(reactor_, *port2_);
  auto c = connect(a, 0, 31, connect_data(kHostNqn, "nqn.2024-01.io.nvmf:a"));
  EXPECT_TRUE(c.status().same_code(nvme::Status::command_specific(NVME_SC_CONNECT_INVALID_PARAM)));
  EXPECT_EQ(c.cqe.dw0, 1u << 16 | offsetof(nvmf_connect_data, subsysnqn));
  FakeQueue b(reactor_, *port2_);
  EXPECT_TRUE(connect(b, 0, 31, connect_data(kHostNqn, "nqn.2024-01.io.nvmf:b")).status().ok());
  FakeQueue d(reactor_, *port2_);
  EXPECT_TRUE(connect(d, 0, 31, connect_data(kHostNqn, nvme::kDiscoveryNqn)).status().ok());
}

TEST_F(PortTest, DiscoveryLogFollowsPortsAndListsReferrals) {
  auto q = new_queue();
  ASSERT_TRUE(connect(*q, 0, 31, connect_data(kHostNqn, nvme::kDiscoveryNqn)).status().ok());
  ASSERT_TRUE(q->run(property_set(NVME_REG_CC, cc_enable())).status().ok());
  auto c = q->run(get_log_sqe(NVME_LOG_LID_DISCOVER, 7 * 1024, 0, 0), 7 * 1024);
  ASSERT_TRUE(c.status().ok());
  nvmf_discovery_log header;
  std::memcpy(&header, c.data.data(), sizeof header);
  // Port 1: a, b, current; port 2: b, current; then the referral.
  ASSERT_EQ(header.numrec, 6u);
  auto entry = [&](std::size_t i) {
    nvmf_disc_log_entry e;
    std::memcpy(&e, c.data.data() + 1024 * (i + 1), sizeof e);
    return e;
  };
  EXPECT_STREQ(entry(3).subnqn, "nqn.2024-01.io.nvmf:b");
  EXPECT_EQ(entry(3).portid, 2);
  EXPECT_EQ(entry(4).subtype, NVME_NQN_CURR);
  auto ref = entry(5);
  EXPECT_EQ(ref.subtype, NVME_NQN_DISC);
  EXPECT_STREQ(ref.subnqn, nvme::kDiscoveryNqn);
  EXPECT_STREQ(ref.traddr, "10.0.0.5");
  EXPECT_STREQ(ref.trsvcid, "8009");
  EXPECT_EQ(ref.portid, 9);
  EXPECT_EQ(ref.trtype, NVMF_TRTYPE_TCP);
  EXPECT_EQ(ref.adrfam, NVMF_ADDR_FAMILY_IP4);
  EXPECT_EQ(ref.cntlid, 0xFFFF);
}

}  // namespace
}  // namespace nvmf::test
