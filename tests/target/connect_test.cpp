// Fabrics Connect through the QueueHandler seam: admin and I/O queues, and each refusal with the status and
// IATTR/IPO the NVMe-oF spec and nvmet give it.
#include "fabric/log.hpp"
#include "target/discovery.hpp"
#include "target_fixture.hpp"

namespace nvmf::test {
namespace {

constexpr std::uint32_t kIpoData = 1u << 16;

class ConnectTest : public TargetTest {
 protected:
  void SetUp() override {
    auto restricted = ram_subsystem("nqn.2024-01.io.nvmf:restricted");
    restricted.allowed_hosts = {kHostNqn};
    make_registry({ram_subsystem(), restricted});
  }
};

TEST_F(ConnectTest, AdminConnectCreatesControllerWithDynamicCntlid) {
  auto q = new_queue();
  auto c = connect(*q, 0, 31, connect_data(kHostNqn, kSubNqn), 5000);
  ASSERT_TRUE(c.status().ok()) << c.status().to_string();
  const auto cntlid = static_cast<std::uint16_t>(c.cqe.dw0);
  EXPECT_GE(cntlid, 1);
  EXPECT_LE(cntlid, 0xFFEF);
  ASSERT_TRUE(q->params().has_value());
  EXPECT_EQ(q->params()->qid, 0);
  EXPECT_EQ(q->params()->depth, 32);
  auto ctrl = controller(cntlid);
  ASSERT_NE(ctrl, nullptr);
  EXPECT_EQ(ctrl->kato_ms(), 5000u);

  // A second controller for the same host gets another CNTLID.
  auto q2 = new_queue();
  auto c2 = connect(*q2, 0, 31, connect_data(kHostNqn, kSubNqn));
  ASSERT_TRUE(c2.status().ok());
  EXPECT_NE(c2.cqe.dw0, c.cqe.dw0);
}

TEST_F(ConnectTest, ConnectDataFetchedWhenNotInCapsule) {
  auto q = new_queue();
  auto data = connect_data(kHostNqn, kSubNqn);
  auto c = q->run(connect_sqe(0, 31), sizeof data, &data, /*in_capsule=*/false);
  EXPECT_TRUE(c.status().ok());
  EXPECT_EQ(q->fetch_count(), 1u);
}

TEST_F(ConnectTest, UnknownSubsystemIsInvalidParameterPointingAtSubnqn) {
  auto q = new_queue();
  auto c = connect(*q, 0, 31, connect_data(kHostNqn, "nqn.2024-01.io.nvmf:nope"));
  EXPECT_EQ(c.status().sct(), NVME_SCT_CMD_SPECIFIC);
  EXPECT_EQ(c.status().sc(), NVME_SC_CONNECT_INVALID_PARAM);
  EXPECT_TRUE(c.status().dnr());
  EXPECT_EQ(c.cqe.dw0, kIpoData | offsetof(nvmf_connect_data, subsysnqn));
  EXPECT_FALSE(q->params().has_value());
}

TEST_F(ConnectTest, HostNotAllowedIsInvalidHost) {
  auto q = new_queue();
  auto c = connect(*q, 0, 31, connect_data(kOtherHostNqn, "nqn.2024-01.io.nvmf:restricted"));
  EXPECT_EQ(c.status().sct(), NVME_SCT_CMD_SPECIFIC);
  EXPECT_EQ(c.status().sc(), NVME_SC_CONNECT_INVALID_HOST);
  EXPECT_EQ(c.cqe.dw0, kIpoData | offsetof(nvmf_connect_data, hostnqn));
  auto ok = connect(*new_queue(), 0, 31, connect_data(kHostNqn, "nqn.2024-01.io.nvmf:restricted"));
  EXPECT_TRUE(ok.status().ok());
}

TEST_F(ConnectTest, AdminConnectMustAskForDynamicController) {
  auto q = new_queue();
  auto c = connect(*q, 0, 31, connect_data(kHostNqn, kSubNqn, 1));
  EXPECT_EQ(c.status().sc(), NVME_SC_CONNECT_INVALID_PARAM);
  EXPECT_EQ(c.cqe.dw0, kIpoData | offsetof(nvmf_connect_data, cntlid));
}

TEST_F(ConnectTest, BadSqsizeIsInvalidParameterPointingAtSqsize) {
  for (std::uint16_t sqsize : {std::uint16_t(0), std::uint16_t(128)}) {
    auto q = new_queue();
    auto c = connect(*q, 0, sqsize, connect_data(kHostNqn, kSubNqn));
    EXPECT_EQ(c.status().sc(), NVME_SC_CONNECT_INVALID_PARAM) << sqsize;
    EXPECT_EQ(c.cqe.dw0, offsetof(nvme::ConnectCommand, sqsize)) << sqsize;  // IATTR 0: the SQE
  }
}

TEST_F(ConnectTest, NonTerminatedNqnRefused) {
  auto q = new_queue();
  auto d = connect_data(kHostNqn, kSubNqn);
  std::memset(d.hostnqn, 'a', sizeof d.hostnqn);
  auto c = connect(*q, 0, 31, d);
  EXPECT_EQ(c.status().sc(), NVME_SC_CONNECT_INVALID_PARAM);
  EXPECT_EQ(c.cqe.dw0, kIpoData | offsetof(nvmf_connect_data, hostnqn));
}

TEST_F(ConnectTest, RecfmtOtherThanZeroIsIncompatibleFormat) {
  auto q = new_queue();
  auto sqe = connect_sqe(0, 31);
  auto cmd = nvme::fabrics_view<nvme::ConnectCommand>(sqe);
  cmd.recfmt = 1;
  auto d = connect_data(kHostNqn, kSubNqn);
  auto c = q->run(nvme::to_sqe(cmd), sizeof d, &d);
  EXPECT_EQ(c.status().sct(), NVME_SCT_CMD_SPECIFIC);
  EXPECT_EQ(c.status().sc(), NVME_SC_CONNECT_FORMAT);
}

TEST_F(ConnectTest, WrongConnectDataLengthIsSglLengthInvalid) {
  auto q = new_queue();
  auto d = connect_data(kHostNqn, kSubNqn);
  auto c = q->run(connect_sqe(0, 31), 512, &d);
  EXPECT_TRUE(c.status().same_code(nvme::Status::generic(NVME_SC_SGL_INVALID_DATA)));
}

TEST_F(ConnectTest, CommandsBeforeConnectAreSequenceErrors) {
  auto q = new_queue();
  auto c = q->run(property_get(NVME_REG_CAP, true));
  EXPECT_TRUE(c.status().same_code(nvme::Status::generic(NVME_SC_CMD_SEQ_ERROR)));
  auto r = q->run(io_sqe(nvme_cmd_read, 1, 0, 1), 512);
  EXPECT_TRUE(r.status().same_code(nvme::Status::generic(NVME_SC_CMD_SEQ_ERROR)));
}

TEST_F(ConnectTest, IoQueueConnectLifecycle) {
  auto admin = new_queue();
  auto c = connect(*admin, 0, 31, connect_data(kHostNqn, kSubNqn));
  auto cntlid = static_cast<std::uint16_t>(c.cqe.dw0);

  // Before CC.EN = 1: Command Sequence Error.
  auto early = connect_io(*new_queue(), cntlid, 1);
  EXPECT_TRUE(early.status().same_code(nvme::Status::generic(NVME_SC_CMD_SEQ_ERROR)));

  ASSERT_TRUE(admin->run(property_set(NVME_REG_CC, cc_enable())).status().ok());
  // Two I/O queues granted (0's based 1 + 1).
  auto nq = admin->run(admin_sqe(nvme_admin_set_features, 0, NVME_FEAT_FID_NUM_QUEUES, 0x00010001));
  ASSERT_TRUE(nq.status().ok());
  EXPECT_EQ(nq.cqe.dw0, 0x00010001u);

  auto q1 = new_queue();
  auto ok = connect_io(*q1, cntlid, 1);
  ASSERT_TRUE(ok.status().ok()) << ok.status().to_string();
  EXPECT_EQ(ok.cqe.dw0, cntlid);
  EXPECT_EQ(q1->params()->qid, 1);
  EXPECT_EQ(q1->params()->depth, 128);

  // Duplicate QID: Command Sequence Error (nvmet_install_queue).
  auto dup = connect_io(*new_queue(), cntlid, 1);
  EXPECT_TRUE(dup.status().same_code(nvme::Status::generic(NVME_SC_CMD_SEQ_ERROR)));
  // QID beyond the granted queues: invalid parameter at QID.
  auto beyond = connect_io(*new_queue(), cntlid, 3);
  EXPECT_EQ(beyond.status().sc(), NVME_SC_CONNECT_INVALID_PARAM);
  EXPECT_EQ(beyond.cqe.dw0, offsetof(nvme::ConnectCommand, qid));
  // SQSIZE above MQES.
  auto big = connect_io(*new_queue(), cntlid, 2, 200);
  EXPECT_EQ(big.status().sc(), NVME_SC_CONNECT_INVALID_PARAM);
  EXPECT_EQ(big.cqe.dw0, offsetof(nvme::ConnectCommand, sqsize));
  // Unknown controller, or another host's: invalid parameter at CNTLID.
  auto unknown = connect_io(*new_queue(), static_cast<std::uint16_t>(cntlid + 100), 2);
  EXPECT_EQ(unknown.cqe.dw0, kIpoData | offsetof(nvmf_connect_data, cntlid));
  auto other = connect_io(*new_queue(), cntlid, 2, 127, kSubNqn, kOtherHostNqn);
  EXPECT_EQ(other.status().sc(), NVME_SC_CONNECT_INVALID_PARAM);

  // Set Features Number of Queues once I/O queues exist: Command Sequence Error.
  auto late = admin->run(admin_sqe(nvme_admin_set_features, 0, NVME_FEAT_FID_NUM_QUEUES, 0x00030003));
  EXPECT_TRUE(late.status().same_code(nvme::Status::generic(NVME_SC_CMD_SEQ_ERROR)));

  // Disconnect frees the QID.
  auto disc = q1->run(fabrics_sqe(nvme_fabrics_type_disconnect));
  EXPECT_TRUE(disc.status().ok());
  auto again = connect_io(*new_queue(), cntlid, 1);
  EXPECT_TRUE(again.status().ok()) << again.status().to_string();
  // The disconnected queue takes no more commands.
  auto after = q1->run(io_sqe(nvme_cmd_read, 1, 0, 1), 512);
  EXPECT_TRUE(after.status().same_code(nvme::Status::generic(NVME_SC_CMD_SEQ_ERROR)));
}

TEST_F(ConnectTest, AdminTeardownClosesIoQueuesAndReleasesCntlid) {
  auto admin = new_queue();
  auto cntlid = connect_and_enable(*admin);
  auto io = new_queue();
  ASSERT_TRUE(connect_io(*io, cntlid, 1).status().ok());
  admin->close();
  drain();
  EXPECT_TRUE(io->closed());
  EXPECT_EQ(controller(cntlid), nullptr);
}

TEST_F(ConnectTest, DiscoveryControllerRefusesIoQueues) {
  auto admin = new_queue();
  auto c = connect(*admin, 0, 31, connect_data(kHostNqn, nvme::kDiscoveryNqn));
  ASSERT_TRUE(c.status().ok());
  ASSERT_TRUE(admin->run(property_set(NVME_REG_CC, cc_enable())).status().ok());
  auto io = connect_io(*new_queue(), static_cast<std::uint16_t>(c.cqe.dw0), 1, 31, nvme::kDiscoveryNqn);
  EXPECT_EQ(io.status().sc(), NVME_SC_CONNECT_INVALID_PARAM);
  EXPECT_EQ(io.cqe.dw0, offsetof(nvme::ConnectCommand, qid));
}

// SPDK's host tools (v24.01) send an empty Host NQN and a zero Host ID. nvmet (allow_any_host) and SPDK's target
// take such a host where any host may connect; so do we, for the admin queue and the I/O queues alike.
nvmf_connect_data spdk_style_connect_data(const std::string& subnqn, std::uint16_t cntlid = 0xFFFF) {
  auto d = connect_data("", subnqn, cntlid);
  std::memset(d.hostid, 0, sizeof d.hostid);
  return d;
}

TEST_F(ConnectTest, EmptyHostNqnConnectsWhereAnyHostIsAllowed) {
  auto admin = new_queue();
  auto c = connect(*admin, 0, 31, spdk_style_connect_data(kSubNqn));
  ASSERT_TRUE(c.status().ok()) << c.status().to_string(true);
  const auto cntlid = static_cast<std::uint16_t>(c.cqe.dw0);
  auto ctrl = controller(cntlid, kSubNqn, "");
  ASSERT_NE(ctrl, nullptr);
  EXPECT_EQ(ctrl->host_nqn(), "");
  ASSERT_TRUE(admin->run(property_set(NVME_REG_CC, cc_enable())).status().ok());

  // Its I/O queues name the same (empty) host; another host cannot borrow its controller, nor it another's.
  auto io = new_queue();
  auto ok = connect(*io, 1, 127, spdk_style_connect_data(kSubNqn, cntlid));
  ASSERT_TRUE(ok.status().ok()) << ok.status().to_string(true);
  EXPECT_TRUE(io->run(io_sqe(nvme_cmd_read, 1, 0, 1), 512).status().ok());
  auto borrowed = connect_io(*new_queue(), cntlid, 1, 127, kSubNqn, kHostNqn);
  EXPECT_EQ(borrowed.status().sc(), NVME_SC_CONNECT_INVALID_PARAM);
  auto named = new_queue();
  const auto named_cntlid = connect_and_enable(*named);
  auto lent = connect(*new_queue(), 1, 127, spdk_style_connect_data(kSubNqn, named_cntlid));
  EXPECT_EQ(lent.status().sc(), NVME_SC_CONNECT_INVALID_PARAM);
}

TEST_F(ConnectTest, EmptyHostNqnRefusedWhereHostsAreListed) {
  auto q = new_queue();
  auto c = connect(*q, 0, 31, spdk_style_connect_data("nqn.2024-01.io.nvmf:restricted"));
  EXPECT_EQ(c.status().sct(), NVME_SCT_CMD_SPECIFIC);
  EXPECT_EQ(c.status().sc(), NVME_SC_CONNECT_INVALID_HOST);
  EXPECT_TRUE(c.status().dnr());
  EXPECT_EQ(c.cqe.dw0, kIpoData | offsetof(nvmf_connect_data, hostnqn));
  EXPECT_FALSE(q->params().has_value());
  // Its discovery log lists the open subsystem only.
  registry_->add_port({1, {fabric::TransportType::tcp, false, "127.0.0.1", "4420"}, true, {}});
  const auto log = target::build_discovery_log(registry_->discovery_snapshot(), "");
  const auto* header = reinterpret_cast<const nvmf_discovery_log*>(log.data());
  std::vector<std::string> listed;
  for (std::uint64_t i = 0; i < header->numrec; ++i)
    if (header->entries[i].subtype == NVME_NQN_NVME) listed.emplace_back(header->entries[i].subnqn);
  EXPECT_EQ(listed, std::vector<std::string>{kSubNqn});
}

class ConnectLogTest : public ConnectTest {
 protected:
  void SetUp() override {
    ConnectTest::SetUp();
    saved_ = log::level();
    log::set_level(log::Level::info);  // the default of `nvmf target`
  }
  void TearDown() override { log::set_level(saved_); }
  /// Runs `connect` with stderr captured; returns what was logged.
  template <typename F>
  std::string logged(F&& connect) {
    testing::internal::CaptureStderr();
    connect();
    return testing::internal::GetCapturedStderr();
  }
  log::Level saved_ = log::Level::info;
};

TEST_F(ConnectLogTest, EveryRefusalIsLoggedAtTheDefaultLevelWithReasonAndFabricsMeaning) {
  // Unknown subsystem: SCT 1h SC 82h, which for a Connect means Invalid Parameters, not the NVM meaning.
  auto unknown = logged([&] { connect(*new_queue(), 0, 31, connect_data(kHostNqn, "nqn.2024-01.io.nvmf:nope")); });
  EXPECT_NE(unknown.find("info"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("refused: unknown subsystem"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("nqn.2024-01.io.nvmf:nope"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("SCT 1h SC 82h"), std::string::npos) << unknown;
  EXPECT_EQ(unknown.find("Read Only"), std::string::npos) << unknown;

  auto host = logged([&] { connect(*new_queue(), 0, 31, spdk_style_connect_data("nqn.2024-01.io.nvmf:restricted")); });
  EXPECT_NE(host.find("host (empty)"), std::string::npos) << host;
  EXPECT_NE(host.find("allowed-host list and the host NQN is empty"), std::string::npos) << host;
  EXPECT_NE(host.find("SCT 1h SC 84h"), std::string::npos) << host;

  auto sqsize = logged([&] { connect(*new_queue(), 0, 0, connect_data(kHostNqn, kSubNqn)); });
  EXPECT_NE(sqsize.find("refused: SQSIZE"), std::string::npos) << sqsize;

  auto length = logged([&] {
    auto d = connect_data(kHostNqn, kSubNqn);
    new_queue()->run(connect_sqe(0, 31), 512, &d);
  });
  EXPECT_NE(length.find("refused: the Connect data is not 1024 bytes"), std::string::npos) << length;

  auto io = logged([&] { connect_io(*new_queue(), 77, 1); });
  EXPECT_NE(io.find("qid 1) refused: no controller with this CNTLID"), std::string::npos) << io;

  // Control bytes in an NQN cannot start a line of their own.
  auto forged = logged([&] {
    connect(*new_queue(), 0, 31, connect_data(kHostNqn, "nqn.x\n00:00:00.000 info  forged"));
  });
  EXPECT_EQ(forged.find("\n00:00:00.000"), std::string::npos) << forged;
  EXPECT_NE(forged.find("nqn.x?00:00:00.000 info  forged"), std::string::npos) << forged;

  // A second Connect on a connected admin queue: Command Sequence Error, logged too.
  auto admin = new_queue();
  ASSERT_TRUE(connect(*admin, 0, 31, connect_data(kHostNqn, kSubNqn)).status().ok());
  auto again = logged([&] {
    auto c = connect(*admin, 0, 31, connect_data(kHostNqn, kSubNqn));
    EXPECT_TRUE(c.status().same_code(nvme::Status::generic(NVME_SC_CMD_SEQ_ERROR))) << c.status().to_string(true);
  });
  EXPECT_NE(again.find("refused: the queue is connected already"), std::string::npos) << again;

  // An accepted Connect logs no refusal.
  auto accepted = logged([&] { connect(*new_queue(), 0, 31, spdk_style_connect_data(kSubNqn)); });
  EXPECT_EQ(accepted.find("refused"), std::string::npos) << accepted;
}

}  // namespace
}  // namespace nvmf::test
