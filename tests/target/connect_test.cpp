// Fabrics Connect through the QueueHandler seam: admin and I/O queues, and each refusal with the status and
// IATTR/IPO the NVMe-oF spec and nvmet give it.
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

}  // namespace
}  // namespace nvmf::test
