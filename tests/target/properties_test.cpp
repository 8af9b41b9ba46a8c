// Property Get/Set and the CC/CSTS state machine, including the exact sequences the Linux 6.1 host sends
// (docs/linux-host.md, "The commands it sends").
#include "target_fixture.hpp"

namespace nvmf::test {
namespace {

class PropertiesTest : public TargetTest {
 protected:
  void SetUp() override { make_registry({ram_subsystem()}); }
};

TEST_F(PropertiesTest, CapVsAndDefaults) {
  auto q = new_queue();
  ASSERT_TRUE(connect(*q, 0, 31, connect_data(kHostNqn, kSubNqn)).status().ok());
  auto cap = q->run(property_get(NVME_REG_CAP, true));
  ASSERT_TRUE(cap.status().ok());
  const std::uint64_t v = cap.cqe.result64();
  EXPECT_EQ(NVME_CAP_MQES(v), 127u);  // TransportLimits::max_queue_depth - 1
  EXPECT_EQ(NVME_CAP_CQR(v), 1u);
  EXPECT_GT(NVME_CAP_TO(v), 0u);
  EXPECT_TRUE(NVME_CAP_CSS(v) & NVME_CAP_CSS_NVM);
  EXPECT_EQ(NVME_CAP_DSTRD(v), 0u);
  EXPECT_EQ(NVME_CAP_MPSMIN(v), 0u);
  auto vs = q->run(property_get(NVME_REG_VS));
  EXPECT_EQ(vs.cqe.dw0, 0x00010400u);
  EXPECT_EQ(q->run(property_get(NVME_REG_CC)).cqe.dw0, 0u);
  EXPECT_EQ(q->run(property_get(NVME_REG_CSTS)).cqe.dw0, 0u);
}

TEST_F(PropertiesTest, UnknownOffsetsAndSizesAreInvalidField) {
  auto q = new_queue();
  ASSERT_TRUE(connect(*q, 0, 31, connect_data(kHostNqn, kSubNqn)).status().ok());
  const auto invalid = nvme::Status::generic(NVME_SC_INVALID_FIELD);
  EXPECT_TRUE(q->run(property_get(0x30)).status().same_code(invalid));
  EXPECT_TRUE(q->run(property_get(NVME_REG_CC, true)).status().same_code(invalid));  // CC is 4 bytes
  EXPECT_TRUE(q->run(property_get(NVME_REG_CAP, false)).status().same_code(invalid));
  EXPECT_TRUE(q->run(property_set(NVME_REG_CSTS, 1)).status().same_code(invalid));
  EXPECT_TRUE(q->run(property_set(NVME_REG_CAP, 1, true)).status().same_code(invalid));
}

TEST_F(PropertiesTest, AdminCommandsBeforeEnableAreSequenceErrors) {
  auto q = new_queue();
  ASSERT_TRUE(connect(*q, 0, 31, connect_data(kHostNqn, kSubNqn)).status().ok());
  auto id = q->run(identify_sqe(NVME_IDENTIFY_CNS_CTRL), 4096);
  EXPECT_TRUE(id.status().same_code(nvme::Status::generic(NVME_SC_CMD_SEQ_ERROR)));
  EXPECT_TRUE(id.status().dnr());
}

TEST_F(PropertiesTest, InvalidConfigurationSetsCfs) {
  auto q = new_queue();
  ASSERT_TRUE(connect(*q, 0, 31, connect_data(kHostNqn, kSubNqn)).status().ok());
  ASSERT_TRUE(q->run(property_set(NVME_REG_CC, 0x460061 | 1u << 7)).status().ok());  // MPS = 1 (8 KiB)
  auto csts = q->run(property_get(NVME_REG_CSTS)).cqe.dw0;
  EXPECT_TRUE(NVME_CSTS_CFS(csts));
  EXPECT_FALSE(NVME_CSTS_RDY(csts));
}

// `nvme connect` then `nvme disconnect` against an I/O controller, command by command.
TEST_F(PropertiesTest, LinuxHostIoControllerSequence) {
  auto admin = new_queue();
  auto c = connect(*admin, 0, 31, connect_data(kHostNqn, kSubNqn), 5000);
  ASSERT_TRUE(c.status().ok());
  const auto cntlid = static_cast<std::uint16_t>(c.cqe.dw0);
  ASSERT_TRUE(admin->run(property_get(NVME_REG_CAP, true)).status().ok());
  ASSERT_TRUE(admin->run(property_set(NVME_REG_CC, 0x460060)).status().ok());
  EXPECT_EQ(admin->run(property_get(NVME_REG_CC)).cqe.dw0, 0x460060u);
  ASSERT_TRUE(admin->run(property_get(NVME_REG_CAP, true)).status().ok());
  ASSERT_TRUE(admin->run(property_set(NVME_REG_CC, 0x460061)).status().ok());
  EXPECT_TRUE(NVME_CSTS_RDY(admin->run(property_get(NVME_REG_CSTS)).cqe.dw0));
  EXPECT_TRUE(admin->run(property_get(NVME_REG_VS)).status().ok());
  auto id = admin->run(identify_sqe(NVME_IDENTIFY_CNS_CTRL), 4096);
  ASSERT_TRUE(id.status().ok());
  EXPECT_EQ(as<nvme_id_ctrl>(id).cntlid, cntlid);
  EXPECT_TRUE(admin->run(get_log_sqe(NVME_LOG_LID_CMD_EFFECTS, 4096), 4096).status().ok());
  EXPECT_TRUE(admin->run(get_log_sqe(NVME_LOG_LID_SMART, 512), 512).status().ok());
  auto nq = admin->run(admin_sqe(nvme_admin_set_features, 0, NVME_FEAT_FID_NUM_QUEUES, 0x00010001));
  ASSERT_TRUE(nq.status().ok());
  auto io1 = new_queue(), io2 = new_queue();
  ASSERT_TRUE(connect_io(*io1, cntlid, 1).status().ok());
  ASSERT_TRUE(connect_io(*io2, cntlid, 2).status().ok());
  // The host enables only the events OAES advertises: namespace attribute notices here (no ANA).
  auto oaes = as<nvme_id_ctrl>(id).oaes;
  EXPECT_TRUE(admin->run(admin_sqe(nvme_admin_set_features, 0, NVME_FEAT_FID_ASYNC_EVENT, oaes & 0x900))
                  .status()
                  .ok());
  admin->submit(admin_sqe(nvme_admin_async_event));  // held
  EXPECT_TRUE(admin->completions().empty());
  EXPECT_TRUE(admin->run(identify_sqe(NVME_IDENTIFY_CNS_CSI_CTRL, 0, NVME_CSI_NVM), 4096).status().ok());
  auto list = admin->run(identify_sqe(NVME_IDENTIFY_CNS_NS_ACTIVE_LIST), 4096);
  ASSERT_TRUE(list.status().ok());
  EXPECT_EQ(as<std::uint32_t>(list), 1u);
  EXPECT_TRUE(admin->run(identify_sqe(NVME_IDENTIFY_CNS_NS_DESC_LIST, 1), 4096).status().ok());
  EXPECT_TRUE(admin->run(identify_sqe(NVME_IDENTIFY_CNS_NS, 1), 4096).status().ok());
  for (std::uint64_t lba : {0, 1, 3}) EXPECT_TRUE(io1->run(io_sqe(nvme_cmd_read, 1, lba, 1), 512).status().ok());
  EXPECT_TRUE(admin->run(admin_sqe(nvme_admin_keep_alive)).status().ok());

  // nvme disconnect: Identify, then CC.SHN and CSTS polling until SHST = 2h.
  EXPECT_TRUE(admin->run(identify_sqe(NVME_IDENTIFY_CNS_NS, 1), 4096).status().ok());
  ASSERT_TRUE(admin->run(property_set(NVME_REG_CC, 0x464061)).status().ok());
  std::uint32_t csts = 0;
  for (int i = 0; i < 100 && NVME_CSTS_SHST(csts) != NVME_CSTS_SHST_CMPLT; ++i) {
    csts = admin->run(property_get(NVME_REG_CSTS)).cqe.dw0;
    drain(1);
  }
  EXPECT_EQ(NVME_CSTS_SHST(csts), NVME_CSTS_SHST_CMPLT);
  // After shutdown, I/O is refused.
  drain();
  auto late = io1->run(io_sqe(nvme_cmd_read, 1, 0, 1), 512);
  EXPECT_TRUE(late.status().same_code(nvme::Status::generic(NVME_SC_CMD_SEQ_ERROR)));
}

// `nvme discover`: the discovery controller's admin sequence.
TEST_F(PropertiesTest, LinuxHostDiscoverySequence) {
  fabric::ListenAddress a;
  a.traddr = "127.0.0.1";
  a.trsvcid = "4420";
  registry_->add_port(target::Port{1, a, true, {}});
  auto q = new_queue();
  ASSERT_TRUE(connect(*q, 0, 31, connect_data(kHostNqn, nvme::kDiscoveryNqn), 0).status().ok());
  ASSERT_TRUE(q->run(property_get(NVME_REG_CAP, true)).status().ok());
  ASSERT_TRUE(q->run(property_set(NVME_REG_CC, 0x460060)).status().ok());
  ASSERT_TRUE(q->run(property_get(NVME_REG_CC)).status().ok());
  ASSERT_TRUE(q->run(property_get(NVME_REG_CAP, true)).status().ok());
  ASSERT_TRUE(q->run(property_set(NVME_REG_CC, 0x460061)).status().ok());
  EXPECT_TRUE(NVME_CSTS_RDY(q->run(property_get(NVME_REG_CSTS)).cqe.dw0));
  ASSERT_TRUE(q->run(property_get(NVME_REG_VS)).status().ok());
  auto id = q->run(identify_sqe(NVME_IDENTIFY_CNS_CTRL), 4096);
  ASSERT_TRUE(id.status().ok());
  EXPECT_EQ(as<nvme_id_ctrl>(id).cntrltype, NVME_CTRL_CNTRLTYPE_DISCOVERY);
  EXPECT_TRUE(q->run(admin_sqe(nvme_admin_set_features, 0, NVME_FEAT_FID_ASYNC_EVENT, 0x80000000)).status().ok());
  q->submit(admin_sqe(nvme_admin_async_event));
  EXPECT_TRUE(q->completions().empty());
  ASSERT_TRUE(q->run(identify_sqe(NVME_IDENTIFY_CNS_CTRL), 4096).status().ok());
  auto header = q->run(get_log_sqe(NVME_LOG_LID_DISCOVER, 1024, 0, 0, true), 1024);
  ASSERT_TRUE(header.status().ok());
  auto numrec = as<nvmf_discovery_log>(header).numrec;
  EXPECT_EQ(numrec, 2u);  // the subsystem + the current discovery subsystem
  auto full = q->run(get_log_sqe(NVME_LOG_LID_DISCOVER, static_cast<std::uint32_t>((1 + numrec) * 1024), 0, 0, true),
                     static_cast<std::uint32_t>((1 + numrec) * 1024));
  ASSERT_TRUE(full.status().ok());
  ASSERT_TRUE(q->run(property_set(NVME_REG_CC, 0x464061)).status().ok());
  std::uint32_t csts = 0;
  for (int i = 0; i < 100 && NVME_CSTS_SHST(csts) != NVME_CSTS_SHST_CMPLT; ++i) {
    csts = q->run(property_get(NVME_REG_CSTS)).cqe.dw0;
    drain(1);
  }
  EXPECT_EQ(NVME_CSTS_SHST(csts), NVME_CSTS_SHST_CMPLT);
}

TEST_F(PropertiesTest, ResetClosesIoQueuesAndAllowsReconnect) {
  auto admin = new_queue();
  auto cntlid = connect_and_enable(*admin);
  auto io = new_queue();
  ASSERT_TRUE(connect_io(*io, cntlid, 1).status().ok());
  ASSERT_TRUE(admin->run(property_set(NVME_REG_CC, 0x460060)).status().ok());  // EN 1 -> 0
  EXPECT_EQ(admin->run(property_get(NVME_REG_CSTS)).cqe.dw0, 0u);
  drain();
  EXPECT_TRUE(io->closed());
  // Admin commands other than fabrics are refused again until re-enabled.
  EXPECT_TRUE(admin->run(identify_sqe(NVME_IDENTIFY_CNS_CTRL), 4096)
                  .status()
                  .same_code(nvme::Status::generic(NVME_SC_CMD_SEQ_ERROR)));
  ASSERT_TRUE(admin->run(property_set(NVME_REG_CC, cc_enable())).status().ok());
  ASSERT_TRUE(admin->run(admin_sqe(nvme_admin_set_features, 0, NVME_FEAT_FID_NUM_QUEUES, 0)).status().ok());
  EXPECT_TRUE(connect_io(*new_queue(), cntlid, 1).status().ok());
}

TEST_F(PropertiesTest, KeepAliveTimeoutTearsControllerDown) {
  auto admin = new_queue();
  auto cntlid = connect_and_enable(*admin, kSubNqn, kHostNqn, 100);
  // Keep-alives within the timeout keep it up.
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(admin->run(admin_sqe(nvme_admin_keep_alive)).status().ok());
    for (int t = 0; t < 5; ++t) reactor_.run_once(std::chrono::milliseconds(10));
  }
  EXPECT_FALSE(admin->closed());
  // Silence for more than two KATO windows: the controller is torn down.
  for (int t = 0; t < 40 && !admin->closed(); ++t) reactor_.run_once(std::chrono::milliseconds(10));
  EXPECT_TRUE(admin->closed());
  EXPECT_EQ(controller(cntlid), nullptr);
}

}  // namespace
}  // namespace nvmf::test
