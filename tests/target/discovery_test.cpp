// The discovery controller: log page 70h contents for several subsystems and ports, host ACL filtering,
// GENCTR, partial reads, and the discovery-change AEN.
#include "target_fixture.hpp"

namespace nvmf::test {
namespace {

class DiscoveryTest : public TargetTest {
 protected:
  void SetUp() override {
    auto restricted = ram_subsystem("nqn.2024-01.io.nvmf:restricted");
    restricted.allowed_hosts = {kOtherHostNqn};
    make_registry({ram_subsystem("nqn.2024-01.io.nvmf:a"), ram_subsystem("nqn.2024-01.io.nvmf:b"), restricted});
    fabric::ListenAddress v4{fabric::TransportType::tcp, false, "127.0.0.1", "4420"};
    fabric::ListenAddress v6{fabric::TransportType::tcp, true, "::1", "4421"};
    fabric::ListenAddress disc{fabric::TransportType::tcp, false, "127.0.0.1", "8009"};
    registry_->add_port({1, v4, true, {}});
    registry_->add_port({2, v6, true, {}});
    registry_->add_port({3, disc, false, {}});
  }

  std::unique_ptr<FakeQueue> discovery_controller(const std::string& host) {
    auto q = new_queue();
    EXPECT_TRUE(connect(*q, 0, 31, connect_data(host, nvme::kDiscoveryNqn)).status().ok());
    EXPECT_TRUE(q->run(property_set(NVME_REG_CC, cc_enable())).status().ok());
    return q;
  }

  std::vector<std::uint8_t> read_log(FakeQueue& q) {
    auto header = q.run(get_log_sqe(NVME_LOG_LID_DISCOVER, 1024, 0, 0), 1024);
    EXPECT_TRUE(header.status().ok());
    auto numrec = as<nvmf_discovery_log>(header).numrec;
    auto len = static_cast<std::uint32_t>((numrec + 1) * 1024);
    auto full = q.run(get_log_sqe(NVME_LOG_LID_DISCOVER, len, 0, 0), len);
    EXPECT_TRUE(full.status().ok());
    std::vector<std::uint8_t> out(full.data.size());
    std::memcpy(out.data(), full.data.data(), out.size());
    return out;
  }

  static nvmf_disc_log_entry entry(const std::vector<std::uint8_t>& log, std::size_t i) {
    nvmf_disc_log_entry e;
    std::memcpy(&e, log.data() + 1024 * (i + 1), sizeof e);
    return e;
  }
};

TEST_F(DiscoveryTest, LogListsAllowedSubsystemsPerPortAndCurrentDiscoveryEntries) {
  auto q = discovery_controller(kHostNqn);
  auto log = read_log(*q);
  nvmf_discovery_log header;
  std::memcpy(&header, log.data(), sizeof header);
  // 2 visible subsystems x 2 NVM ports + 3 current-discovery entries.
  ASSERT_EQ(header.numrec, 7u);
  EXPECT_EQ(header.recfmt, 0);
  EXPECT_EQ(header.genctr, registry_->generation());

  auto e0 = entry(log, 0);
  EXPECT_EQ(e0.trtype, NVMF_TRTYPE_TCP);
  EXPECT_EQ(e0.adrfam, NVMF_ADDR_FAMILY_IP4);
  EXPECT_EQ(e0.subtype, NVME_NQN_NVME);
  EXPECT_EQ(e0.treq, NVMF_TREQ_DISABLE_SQFLOW);
  EXPECT_EQ(e0.portid, 1);
  EXPECT_EQ(e0.cntlid, 0xFFFF);
  EXPECT_EQ(e0.asqsz, 32);
  EXPECT_STREQ(e0.trsvcid, "4420");
  EXPECT_STREQ(e0.traddr, "127.0.0.1");
  EXPECT_STREQ(e0.subnqn, "nqn.2024-01.io.nvmf:a");
  EXPECT_EQ(e0.tsas.tcp.sectype, NVMF_TCP_SECTYPE_NONE);
  EXPECT_STREQ(entry(log, 1).subnqn, "nqn.2024-01.io.nvmf:b");
  auto cur = entry(log, 2);
  EXPECT_EQ(cur.subtype, NVME_NQN_CURR);
  EXPECT_STREQ(cur.subnqn, nvme::kDiscoveryNqn);
  auto v6 = entry(log, 3);
  EXPECT_EQ(v6.adrfam, NVMF_ADDR_FAMILY_IP6);
  EXPECT_STREQ(v6.traddr, "::1");
  EXPECT_EQ(v6.portid, 2);
  auto last = entry(log, 6);
  EXPECT_EQ(last.subtype, NVME_NQN_CURR);
  EXPECT_STREQ(last.trsvcid, "8009");
  for (std::size_t i = 0; i < 7; ++i) EXPECT_STRNE(entry(log, i).subnqn, "nqn.2024-01.io.nvmf:restricted");
}

TEST_F(DiscoveryTest, AclFiltersPerHost) {
  auto q = discovery_controller(kOtherHostNqn);
  auto log = read_log(*q);
  nvmf_discovery_log header;
  std::memcpy(&header, log.data(), sizeof header);
  EXPECT_EQ(header.numrec, 9u);  // 3 subsystems x 2 ports + 3
  EXPECT_STREQ(entry(log, 2).subnqn, "nqn.2024-01.io.nvmf:restricted");
}

TEST_F(DiscoveryTest, PartialReadsAndGenerationChangeNotice) {
  auto q = discovery_controller(kHostNqn);
  auto full = read_log(*q);
  // Offset read of the second entry alone.
  auto part = q->run(get_log_sqe(NVME_LOG_LID_DISCOVER, 1024, 2048, 0), 1024);
  ASSERT_TRUE(part.status().ok());
  EXPECT_EQ(std::memcmp(part.data.data(), full.data() + 2048, 1024), 0);

  // Enable discovery log change notices, post an AER, then change the configuration.
  ASSERT_TRUE(q->run(admin_sqe(nvme_admin_set_features, 0, NVME_FEAT_FID_ASYNC_EVENT, 0x80000000)).status().ok());
  q->submit(admin_sqe(nvme_admin_async_event));
  const auto before = registry_->generation();
  fabric::ListenAddress more{fabric::TransportType::tcp, false, "127.0.0.1", "4430"};
  registry_->add_port({4, more, true, {}});
  EXPECT_EQ(registry_->generation(), before + 1);
  ASSERT_TRUE(q->wait_for(1));
  auto aen = q->completions().front();
  EXPECT_TRUE(aen.status().ok());
  EXPECT_EQ(aen.cqe.dw0 & 0x7, NVME_AER_NOTICE);
  EXPECT_EQ((aen.cqe.dw0 >> 8) & 0xFF, NVME_AER_NOTICE_DISC_CHANGED);
  EXPECT_EQ((aen.cqe.dw0 >> 16) & 0xFF, NVME_LOG_LID_DISCOVER);
  q->completions().clear();
  auto log = read_log(*q);
  nvmf_discovery_log header;
  std::memcpy(&header, log.data(), sizeof header);
  EXPECT_EQ(header.genctr, before + 1);
  EXPECT_EQ(header.numrec, 10u);
}

TEST_F(DiscoveryTest, RdmaPortEntriesCarryRdmaTransportAttributes) {
  fabric::ListenAddress rdma{fabric::TransportType::rdma, false, "192.168.7.1", "4420"};
  registry_->add_port({4, rdma, true, {}});
  auto q = discovery_controller(kHostNqn);
  auto log = read_log(*q);
  nvmf_discovery_log header;
  std::memcpy(&header, log.data(), sizeof header);
  ASSERT_EQ(header.numrec, 10u);
  // The RDMA port comes last: subsystems a and b, then its current-discovery entry.
  for (std::size_t i = 7; i < 10; ++i) {
    auto e = entry(log, i);
    EXPECT_EQ(e.trtype, NVMF_TRTYPE_RDMA);
    EXPECT_EQ(e.adrfam, NVMF_ADDR_FAMILY_IP4);
    EXPECT_EQ(e.portid, 4);
    EXPECT_STREQ(e.traddr, "192.168.7.1");
    EXPECT_EQ(e.tsas.rdma.qptype, NVMF_RDMA_QPTYPE_CONNECTED);
    EXPECT_EQ(e.tsas.rdma.prtype, NVMF_RDMA_PRTYPE_NOT_SPECIFIED);
    EXPECT_EQ(e.tsas.rdma.cms, NVMF_RDMA_CMS_RDMA_CM);
    EXPECT_EQ(e.tsas.rdma.pkey, 0);
  }
  EXPECT_STREQ(entry(log, 7).subnqn, "nqn.2024-01.io.nvmf:a");
  EXPECT_EQ(entry(log, 9).subtype, NVME_NQN_CURR);
  // TCP entries keep the TCP security type and nothing in the RDMA bytes.
  EXPECT_EQ(entry(log, 0).tsas.rdma.cms, 0);
}

TEST_F(DiscoveryTest, DiscoveryControllerCommandSet) {
  auto q = discovery_controller(kHostNqn);
  auto id = as<nvme_id_ctrl>(q->run(identify_sqe(NVME_IDENTIFY_CNS_CTRL), 4096));
  EXPECT_EQ(id.cntrltype, NVME_CTRL_CNTRLTYPE_DISCOVERY);
  EXPECT_EQ(id.nn, 0u);
  EXPECT_STREQ(id.subnqn, nvme::kDiscoveryNqn);
  EXPECT_TRUE(id.oaes & NVME_CTRL_OAES_DL);
  const auto invalid = nvme::Status::generic(NVME_SC_INVALID_FIELD);
  EXPECT_TRUE(q->run(identify_sqe(NVME_IDENTIFY_CNS_NS, 1), 4096).status().same_code(invalid));
  EXPECT_TRUE(q->run(get_log_sqe(NVME_LOG_LID_SMART, 512), 512).status().same_code(invalid));
  EXPECT_TRUE(q->run(admin_sqe(nvme_admin_get_features, 0, NVME_FEAT_FID_NUM_QUEUES)).status().same_code(invalid));
  EXPECT_TRUE(q->run(admin_sqe(nvme_admin_abort_cmd))
                  .status()
                  .same_code(nvme::Status::generic(NVME_SC_INVALID_OPCODE)));
  EXPECT_TRUE(q->run(admin_sqe(nvme_admin_keep_alive)).status().ok());
}

}  // namespace
}  // namespace nvmf::test
