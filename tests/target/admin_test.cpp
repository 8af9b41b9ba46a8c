// Admin commands through the QueueHandler seam: every Identify CNS, the log pages, the features, AER limit,
// Abort, Keep Alive and unknown opcodes.
#include <fcntl.h>
#include <unistd.h>

#include "target_fixture.hpp"

namespace nvmf::test {
namespace {

const nvme::Status kInvalidField = nvme::Status::generic(NVME_SC_INVALID_FIELD);

class AdminTest : public TargetTest {
 protected:
  void SetUp() override {
    auto s = ram_subsystem(kSubNqn, 1 << 20, 512, 1);
    target::NamespaceConfig big;
    big.kind = target::BackendKind::ram;
    big.size = 8 << 20;
    big.block_size = 4096;
    big.nsid = 5;
    s.namespaces.push_back(big);
    s.model = "Model X";
    s.firmware = "1.2";
    make_registry({s});
    admin_ = new_queue();
    cntlid_ = connect_and_enable(*admin_);
  }

  Completion run(const nvme::Sqe& sqe, std::uint32_t length = 0, const void* data = nullptr) {
    return admin_->run(sqe, length, data);
  }

  std::unique_ptr<FakeQueue> admin_;
  std::uint16_t cntlid_ = 0;
};

TEST_F(AdminTest, IdentifyController) {
  auto c = run(identify_sqe(NVME_IDENTIFY_CNS_CTRL), 4096);
  ASSERT_TRUE(c.status().ok());
  auto id = as<nvme_id_ctrl>(c);
  EXPECT_EQ(std::string(id.sn, 5), "SN123");
  EXPECT_EQ(id.sn[5], ' ');
  EXPECT_EQ(std::string(id.mn, 7), "Model X");
  EXPECT_EQ(std::string(id.fr, 8), "1.2     ");
  EXPECT_EQ(id.cntlid, cntlid_);
  EXPECT_EQ(id.ver, 0x00010400u);
  EXPECT_EQ(id.mdts, 5);  // 128 KiB / 4 KiB = 2^5
  EXPECT_EQ(id.cntrltype, NVME_CTRL_CNTRLTYPE_IO);
  EXPECT_EQ(id.sqes, 0x66);
  EXPECT_EQ(id.cqes, 0x44);
  EXPECT_EQ(id.nn, target::kMaxNsid);  // room for namespaces added while running
  EXPECT_EQ(id.maxcmd, 128);
  EXPECT_EQ(id.aerl, 3);
  EXPECT_TRUE(id.oncs & NVME_CTRL_ONCS_COMPARE);
  EXPECT_TRUE(id.oncs & NVME_CTRL_ONCS_DSM);
  EXPECT_TRUE(id.oncs & NVME_CTRL_ONCS_WRITE_ZEROES);
  EXPECT_FALSE(id.oncs & NVME_CTRL_ONCS_WRITE_UNCORRECTABLE);
  EXPECT_TRUE(id.vwc & NVME_CTRL_VWC_PRESENT);
  EXPECT_TRUE(id.sgls & 1);
  EXPECT_TRUE(id.sgls & NVME_CTRL_SGLS_OFFSET);
  EXPECT_FALSE(id.sgls & NVME_CTRL_SGLS_KEYED);  // TCP
  EXPECT_STREQ(id.subnqn, kSubNqn);
  EXPECT_EQ(id.ioccsz, (8192u + 64) / 16);
  EXPECT_EQ(id.iorcsz, 1u);
  EXPECT_EQ(id.msdbd, 1);
  EXPECT_TRUE(id.oaes & NVME_CTRL_OAES_NA);
  EXPECT_TRUE(id.ctratt & NVME_CTRL_CTRATT_128_ID);
}

TEST_F(AdminTest, IdentifyNamespace) {
  auto c = run(identify_sqe(NVME_IDENTIFY_CNS_NS, 5), 4096);
  ASSERT_TRUE(c.status().ok());
  auto id = as<nvme_id_ns>(c);
  EXPECT_EQ(id.nsze, 2048u);
  EXPECT_EQ(id.ncap, 2048u);
  EXPECT_EQ(id.nuse, 2048u);
  EXPECT_EQ(id.flbas, 0);
  EXPECT_EQ(id.lbaf[0].ds, 12);
  EXPECT_EQ(id.nmic, NVME_NS_NMIC_SHARED);
  EXPECT_EQ(id.dlfeat & 7, 1);
  auto first = as<nvme_id_ns>(run(identify_sqe(NVME_IDENTIFY_CNS_NS, 1), 4096));
  EXPECT_EQ(first.lbaf[0].ds, 9);
  EXPECT_NE(std::memcmp(first.nguid, id.nguid, 16), 0);  // identifiers differ per namespace

  // Inactive NSID: zero-filled structure; broadcast NSID: Invalid Namespace.
  auto inactive = run(identify_sqe(NVME_IDENTIFY_CNS_NS, 3), 4096);
  ASSERT_TRUE(inactive.status().ok());
  EXPECT_TRUE(std::all_of(inactive.data.begin(), inactive.data.end(), [](std::byte b) { return b == std::byte{0}; }));
  EXPECT_TRUE(run(identify_sqe(NVME_IDENTIFY_CNS_NS, NVME_NSID_ALL), 4096)
                  .status()
                  .same_code(nvme::Status::generic(NVME_SC_INVALID_NS)));
}

TEST_F(AdminTest, IdentifyActiveListAndDescriptors) {
  auto list = run(identify_sqe(NVME_IDENTIFY_CNS_NS_ACTIVE_LIST, 0), 4096);
  ASSERT_TRUE(list.status().ok());
  auto ids = as<nvme_ns_list>(list);
  EXPECT_EQ(ids.ns[0], 1u);
  EXPECT_EQ(ids.ns[1], 5u);
  EXPECT_EQ(ids.ns[2], 0u);
  auto after1 = as<nvme_ns_list>(run(identify_sqe(NVME_IDENTIFY_CNS_NS_ACTIVE_LIST, 1), 4096));
  EXPECT_EQ(after1.ns[0], 5u);
  EXPECT_EQ(after1.ns[1], 0u);

  auto desc = run(identify_sqe(NVME_IDENTIFY_CNS_NS_DESC_LIST, 5), 4096);
  ASSERT_TRUE(desc.status().ok());
  auto ns = as<nvme_id_ns>(run(identify_sqe(NVME_IDENTIFY_CNS_NS, 5), 4096));
  const auto* p = reinterpret_cast<const std::uint8_t*>(desc.data.data());
  EXPECT_EQ(p[0], NVME_NIDT_EUI64);
  EXPECT_EQ(p[1], 8);
  EXPECT_EQ(std::memcmp(p + 4, ns.eui64, 8), 0);
  p += 12;
  EXPECT_EQ(p[0], NVME_NIDT_NGUID);
  EXPECT_EQ(p[1], 16);
  EXPECT_EQ(std::memcmp(p + 4, ns.nguid, 16), 0);
  p += 20;
  EXPECT_EQ(p[0], NVME_NIDT_UUID);
  EXPECT_EQ(p[1], 16);
  EXPECT_EQ(p[4 + 6] >> 4, 8);  // version 8
  p += 20;
  EXPECT_EQ(p[0], NVME_NIDT_CSI);
  EXPECT_EQ(p[4], NVME_CSI_NVM);
  EXPECT_TRUE(run(identify_sqe(NVME_IDENTIFY_CNS_NS_DESC_LIST, 2), 4096)
                  .status()
                  .same_code(nvme::Status::generic(NVME_SC_INVALID_NS)));
}

TEST_F(AdminTest, IdentifyIdsAreStableAcrossRegistries) {
  auto a = target::derive_namespace_ids(kSubNqn, 1);
  auto b = target::derive_namespace_ids(kSubNqn, 1);
  auto c = target::derive_namespace_ids("nqn.2024-01.io.nvmf:other", 1);
  EXPECT_EQ(a.nguid, b.nguid);
  EXPECT_NE(a.nguid, c.nguid);
  EXPECT_EQ(a.eui64[0] & 0x03, 0x02);  // locally administered unicast
}

TEST_F(AdminTest, IdentifyCommandSetAndUnsupportedCns) {
  auto nvm = run(identify_sqe(NVME_IDENTIFY_CNS_CSI_CTRL, 0, NVME_CSI_NVM), 4096);
  ASSERT_TRUE(nvm.status().ok());
  EXPECT_TRUE(std::all_of(nvm.data.begin(), nvm.data.end(), [](std::byte b) { return b == std::byte{0}; }));
  EXPECT_TRUE(run(identify_sqe(NVME_IDENTIFY_CNS_CSI_CTRL, 0, NVME_CSI_ZNS), 4096).status().same_code(kInvalidField));
  for (std::uint8_t cns : {0x04, 0x05, 0x08, 0x10, 0x13})
    EXPECT_TRUE(run(identify_sqe(cns, 1), 4096).status().same_code(kInvalidField)) << int(cns);
  // The SGL must describe the 4 KiB structure.
  EXPECT_TRUE(run(identify_sqe(NVME_IDENTIFY_CNS_CTRL), 1024)
                  .status()
                  .same_code(nvme::Status::generic(NVME_SC_SGL_INVALID_DATA)));
}

TEST_F(AdminTest, SmartCountersMoveWithIo) {
  auto io = new_queue();
  ASSERT_TRUE(connect_io(*io, cntlid_, 1).status().ok());
  auto before = as<nvme_smart_log>(run(get_log_sqe(NVME_LOG_LID_SMART, 512), 512));
  std::vector<std::byte> data(64 * 1024, std::byte{0x5a});
  ASSERT_TRUE(io->run(io_sqe(nvme_cmd_write, 1, 0, 128), 65536, data.data()).status().ok());
  ASSERT_TRUE(io->run(io_sqe(nvme_cmd_read, 1, 0, 128), 65536).status().ok());
  ASSERT_TRUE(io->run(io_sqe(nvme_cmd_read, 1, 0, 1), 512).status().ok());
  auto after = as<nvme_smart_log>(run(get_log_sqe(NVME_LOG_LID_SMART, 512), 512));
  auto u64 = [](const std::uint8_t* f) {
    std::uint64_t v;
    std::memcpy(&v, f, 8);
    return v;
  };
  EXPECT_EQ(u64(after.host_writes) - u64(before.host_writes), 1u);
  EXPECT_EQ(u64(after.host_reads) - u64(before.host_reads), 2u);
  EXPECT_EQ(u64(after.data_units_written), 1u);  // 128 sectors: one unit, rounded up
  EXPECT_EQ(u64(after.data_units_read), 1u);
  // Counters survive the queue.
  io.reset();
  auto later = as<nvme_smart_log>(run(get_log_sqe(NVME_LOG_LID_SMART, 512), 512));
  EXPECT_EQ(u64(later.host_reads), u64(after.host_reads));
  // Per-namespace SMART is not offered (LPA bit 0 clear).
  EXPECT_TRUE(run(get_log_sqe(NVME_LOG_LID_SMART, 512, 0, 1), 512).status().same_code(kInvalidField));
}

TEST_F(AdminTest, ErrorLogRecordsFailedCommands) {
  auto io = new_queue();
  ASSERT_TRUE(connect_io(*io, cntlid_, 1).status().ok());
  auto bad = io->run(io_sqe(nvme_cmd_read, 1, 4096, 1), 512);  // beyond the end
  ASSERT_EQ(bad.status().sc(), NVME_SC_LBA_RANGE);
  auto log = run(get_log_sqe(NVME_LOG_LID_ERROR, 64 * 2), 64 * 2);
  ASSERT_TRUE(log.status().ok());
  nvme_error_log_page newest;
  std::memcpy(&newest, log.data.data(), sizeof newest);
  EXPECT_GE(newest.error_count, 1u);
  EXPECT_EQ(newest.sqid, 1);
  EXPECT_EQ(newest.lba, 4096u);
  EXPECT_EQ(newest.nsid, 1u);
  EXPECT_EQ(nvme::Status::from_cqe_field(newest.status_field).sc(), NVME_SC_LBA_RANGE);
  auto smart = as<nvme_smart_log>(run(get_log_sqe(NVME_LOG_LID_SMART, 512), 512));
  std::uint64_t entries;
  std::memcpy(&entries, smart.num_err_log_entries, 8);
  EXPECT_EQ(entries, newest.error_count);
}

TEST_F(AdminTest, OtherLogPages) {
  auto fw = run(get_log_sqe(NVME_LOG_LID_FW_SLOT, 512), 512);
  ASSERT_TRUE(fw.status().ok());
  auto slot = as<nvme_firmware_slot>(fw);
  EXPECT_EQ(slot.afi, 1);
  EXPECT_EQ(std::string(slot.frs[0], 8), "1.2     ");
  auto changed = run(get_log_sqe(NVME_LOG_LID_CHANGED_NS, 4096), 4096);
  ASSERT_TRUE(changed.status().ok());
  auto effects = as<nvme_cmd_effects_log>(run(get_log_sqe(NVME_LOG_LID_CMD_EFFECTS, 4096), 4096));
  EXPECT_TRUE(effects.acs[nvme_admin_identify] & NVME_CMD_EFFECTS_CSUPP);
  EXPECT_TRUE(effects.iocs[nvme_cmd_write] & NVME_CMD_EFFECTS_LBCC);
  EXPECT_FALSE(effects.iocs[nvme_cmd_write_uncor] & NVME_CMD_EFFECTS_CSUPP);
  // Unsupported pages and the discovery log on an I/O controller: Invalid Field, as nvmet (ANA: ana_test.cpp).
  for (std::uint8_t lid : {std::uint8_t(NVME_LOG_LID_DISCOVER), std::uint8_t(0x06)})
    EXPECT_TRUE(run(get_log_sqe(lid, 4096), 4096).status().same_code(kInvalidField)) << int(lid);
  // Offsets: dword aligned and inside the page; a window returns that part of the page.
  EXPECT_TRUE(run(get_log_sqe(NVME_LOG_LID_FW_SLOT, 8, 2), 8).status().same_code(kInvalidField));
  EXPECT_TRUE(run(get_log_sqe(NVME_LOG_LID_FW_SLOT, 8, 1024), 8).status().same_code(kInvalidField));
  auto window = run(get_log_sqe(NVME_LOG_LID_FW_SLOT, 8, 8), 8);
  ASSERT_TRUE(window.status().ok());
  EXPECT_EQ(std::memcmp(window.data.data(), "1.2     ", 8), 0);
}

TEST_F(AdminTest, Features) {
  // Number of queues: granted min(asked, 16), answered 0's based.
  auto nq = run(admin_sqe(nvme_admin_set_features, 0, NVME_FEAT_FID_NUM_QUEUES, 0x00400040));
  ASSERT_TRUE(nq.status().ok());
  EXPECT_EQ(nq.cqe.dw0, 0x000F000Fu);
  EXPECT_EQ(run(admin_sqe(nvme_admin_get_features, 0, NVME_FEAT_FID_NUM_QUEUES)).cqe.dw0, 0x000F000Fu);
  EXPECT_TRUE(run(admin_sqe(nvme_admin_set_features, 0, NVME_FEAT_FID_NUM_QUEUES, 0xFFFF0000))
                  .status()
                  .same_code(kInvalidField));

  // Keep-alive timer.
  ASSERT_TRUE(run(admin_sqe(nvme_admin_set_features, 0, NVME_FEAT_FID_KATO, 15000)).status().ok());
  EXPECT_EQ(run(admin_sqe(nvme_admin_get_features, 0, NVME_FEAT_FID_KATO)).cqe.dw0, 15000u);

  // Asynchronous event configuration: supported bits only.
  ASSERT_TRUE(run(admin_sqe(nvme_admin_set_features, 0, NVME_FEAT_FID_ASYNC_EVENT, 0x100)).status().ok());
  EXPECT_EQ(run(admin_sqe(nvme_admin_get_features, 0, NVME_FEAT_FID_ASYNC_EVENT)).cqe.dw0, 0x100u);
  EXPECT_TRUE(run(admin_sqe(nvme_admin_set_features, 0, NVME_FEAT_FID_ASYNC_EVENT, 0x1000))
                  .status()
                  .same_code(kInvalidField));  // predictable latency events: not supported
  ASSERT_TRUE(run(admin_sqe(nvme_admin_set_features, 0, NVME_FEAT_FID_ASYNC_EVENT, 0x800)).status().ok());  // ANA

  // Volatile write cache.
  EXPECT_EQ(run(admin_sqe(nvme_admin_get_features, 0, NVME_FEAT_FID_VOLATILE_WC)).cqe.dw0, 1u);
  ASSERT_TRUE(run(admin_sqe(nvme_admin_set_features, 0, NVME_FEAT_FID_VOLATILE_WC, 0)).status().ok());
  EXPECT_EQ(run(admin_sqe(nvme_admin_get_features, 0, NVME_FEAT_FID_VOLATILE_WC)).cqe.dw0, 0u);
  EXPECT_FALSE(controller(cntlid_)->write_cache_enabled());

  // Host identifier: the 16 bytes of Connect, only with EXHID; not settable.
  auto hid = run(admin_sqe(nvme_admin_get_features, 0, NVME_FEAT_FID_HOST_ID, 1), 16);
  ASSERT_TRUE(hid.status().ok());
  EXPECT_EQ(hid.data[0], std::byte{0xA0});
  EXPECT_EQ(hid.data[15], std::byte{0xAF});
  EXPECT_TRUE(run(admin_sqe(nvme_admin_get_features, 0, NVME_FEAT_FID_HOST_ID, 0), 16).status().same_code(kInvalidField));
  EXPECT_TRUE(run(admin_sqe(nvme_admin_set_features, 0, NVME_FEAT_FID_HOST_ID, 1), 16, hid.data.data())
                  .status()
                  .same_code(nvme::Status::generic(NVME_SC_CMD_SEQ_ERROR)));

  // Timestamp: Set stores, Get returns it plus the elapsed time, origin "set by host".
  std::uint64_t ts = 1'700'000'000'000ull;
  ASSERT_TRUE(run(admin_sqe(nvme_admin_set_features, 0, NVME_FEAT_FID_TIMESTAMP), 8, &ts).status().ok());
  auto got = run(admin_sqe(nvme_admin_get_features, 0, NVME_FEAT_FID_TIMESTAMP), 8);
  ASSERT_TRUE(got.status().ok());
  std::uint64_t v = as<std::uint64_t>(got);
  EXPECT_GE(v & 0xFFFFFFFFFFFFull, ts);
  EXPECT_LT((v & 0xFFFFFFFFFFFFull) - ts, 5000u);
  EXPECT_EQ((v >> 49) & 7, 1u);

  // Saving is not supported; unknown features are invalid.
  EXPECT_TRUE(run(admin_sqe(nvme_admin_set_features, 0, NVME_FEAT_FID_KATO | 1u << 31, 1000))
                  .status()
                  .same_code(nvme::Status::command_specific(NVME_SC_FEATURE_NOT_SAVEABLE)));
  EXPECT_TRUE(run(admin_sqe(nvme_admin_get_features, 0, NVME_FEAT_FID_ARBITRATION)).status().same_code(kInvalidField));
  EXPECT_TRUE(run(admin_sqe(nvme_admin_set_features, 0, NVME_FEAT_FID_POWER_MGMT)).status().same_code(kInvalidField));
  // SEL = 3 (capabilities): changeable.
  EXPECT_EQ(run(admin_sqe(nvme_admin_get_features, 0, NVME_FEAT_FID_KATO | 3 << 8)).cqe.dw0, 4u);
}

TEST_F(AdminTest, AsyncEventRequestLimit) {
  for (int i = 0; i < 4; ++i) admin_->submit(admin_sqe(nvme_admin_async_event));
  EXPECT_TRUE(admin_->completions().empty());  // AERL + 1 = 4 held
  auto fifth = run(admin_sqe(nvme_admin_async_event));
  EXPECT_TRUE(fifth.status().same_code(nvme::Status::command_specific(NVME_SC_ASYNC_LIMIT)));
  // Teardown completes the held requests exactly once (the transport discards them).
  admin_->close();
  EXPECT_EQ(admin_->completions().size(), 4u);
  EXPECT_EQ(admin_->outstanding(), 0u);
}

TEST_F(AdminTest, AbortKeepAliveAndUnknownOpcodes) {
  auto abort = run(admin_sqe(nvme_admin_abort_cmd, 0, 1 << 16));
  ASSERT_TRUE(abort.status().ok());
  EXPECT_EQ(abort.cqe.dw0 & 1, 1u);  // not aborted
  EXPECT_TRUE(run(admin_sqe(nvme_admin_keep_alive)).status().ok());
  for (std::uint8_t op : {std::uint8_t(nvme_admin_create_sq), std::uint8_t(nvme_admin_ns_mgmt),
                          std::uint8_t(nvme_admin_format_nvm), std::uint8_t(0xC0)})
    EXPECT_TRUE(run(admin_sqe(op)).status().same_code(nvme::Status::generic(NVME_SC_INVALID_OPCODE))) << int(op);
  // Authentication Send is supported (auth_test.cpp); SECP 0 is not DH-HMAC-CHAP's E9h.
  EXPECT_TRUE(run(fabrics_sqe(nvme_fabrics_type_auth_send))
                  .status()
                  .same_code(nvme::Status::generic(NVME_SC_INVALID_FIELD)));
  EXPECT_TRUE(run(fabrics_sqe(nvme_fabrics_type_disconnect))
                  .status()
                  .same_code(nvme::Status::command_specific(NVME_SC_DISCONNECT_INVALID_QTYPE)));
}

}  // namespace
}  // namespace nvmf::test
