// Asymmetric Namespace Access on the target: Identify as the Linux host requires it, the ANA log page (0Ch)
// with and without RGO and read in pieces, the path status of I/O in every state, the ANA change notice to the
// controllers of the port that changed, refusals of set-ana-state, and the configuration (ours and nvmetcli's).
#include <nlohmann/json.hpp>

#include "target/ana.hpp"
#include "target/config_json.hpp"
#include "target_fixture.hpp"

namespace nvmf::test {
namespace {

constexpr std::uint32_t kAnaNotice = NVME_AER_NOTICE | NVME_AER_NOTICE_ANA << 8 | NVME_LOG_LID_ANA << 16;

class AnaTest : public TargetTest {
 protected:
  void SetUp() override { start(target::ControllerSettings{}.limits.max_io_size); }

  /// A target with two ports (IDs 1 and 2) of one subsystem: NSID 1 in ANA group 1, NSID 2 in group 2. One
  /// controller on each port, each with an I/O queue.
  void start(std::uint32_t max_io_size) {
    target::TargetConfig c;
    c.listeners.push_back(target::parse_listen_address("tcp:127.0.0.1:0"));
    c.subsystems.push_back(ram_subsystem(kSubNqn, 1 << 20, 512, 2));
    c.subsystems[0].namespaces[1].ana_grpid = 2;
    c.limits.max_io_size = max_io_size;
    c.limits.in_capsule_data_size = std::min<std::uint32_t>(c.limits.in_capsule_data_size, max_io_size);
    target_ = std::make_unique<target::Target>(c);
    registry_ = target_->registry();
    for (std::uint16_t p : {1, 2}) registry_->add_port(target::Port{p, c.listeners[0], true, {}});
    for (int p = 0; p < 2; ++p) {
      factories_[p] = std::make_unique<target::SessionFactory>(registry_, static_cast<std::uint16_t>(p + 1));
      factory_ = std::move(factories_[p]);
      admin_[p] = new_queue();
      cntlid_[p] = connect_and_enable(*admin_[p]);
      io_[p] = new_queue();
      ASSERT_TRUE(connect_io(*io_[p], cntlid_[p], 1).status().ok());
      factories_[p] = std::move(factory_);
    }
  }

  void enable_ana_notices(int port) {
    ASSERT_TRUE(admin_[port]
                    ->run(admin_sqe(nvme_admin_set_features, 0, NVME_FEAT_FID_ASYNC_EVENT, NVME_CTRL_OAES_ANA))
                    .status()
                    .ok());
  }

  Completion ana_log(int port, std::uint32_t length = 4096, std::uint64_t offset = 0, bool rgo = false,
                     bool rae = false) {
    nvme::Sqe s = get_log_sqe(NVME_LOG_LID_ANA, length, offset, NVME_NSID_ALL, rae);
    if (rgo) s.cdw10 |= 1u << 8;
    return admin_[port]->run(s, length);
  }

  nvme::Status read_status(int port, std::uint32_t nsid) {
    return io_[port]->run(io_sqe(nvme_cmd_read, nsid, 0, 1), 512).status();
  }

  std::unique_ptr<target::Target> target_;
  std::unique_ptr<target::SessionFactory> factories_[2];
  std::unique_ptr<FakeQueue> admin_[2], io_[2];
  std::uint16_t cntlid_[2] = {};
};

TEST_F(AnaTest, IdentifyReportsAnaAsTheLinuxHostRequires) {
  EXPECT_NE(cntlid_[0], cntlid_[1]);  // unique CNTLIDs in the subsystem
  for (int p = 0; p < 2; ++p) {
    auto id = as<nvme_id_ctrl>(admin_[p]->run(identify_sqe(NVME_IDENTIFY_CNS_CTRL), 4096));
    EXPECT_EQ(id.cmic, NVME_CTRL_CMIC_MULTI_PORT | NVME_CTRL_CMIC_MULTI_CTRL | NVME_CTRL_CMIC_MULTI_ANA_REPORTING);
    EXPECT_TRUE(id.oaes & NVME_CTRL_OAES_ANA);
    EXPECT_EQ(id.anacap, 0x1F);  // all five states
    EXPECT_EQ(id.anatt, target::kAnaTransitionTime);
    EXPECT_EQ(id.anagrpmax, target::kMaxAnaGroups);
    EXPECT_EQ(id.nanagrpid, target::kMaxAnaGroups);
    EXPECT_NE(id.mnan, 0u);
    EXPECT_LE(id.mnan, id.nn);
    // nvme_mpath_init_identify: header + NANAGRPID descriptors + MNAN NSIDs must fit MDTS.
    const std::size_t log_size = 16 + std::size_t(id.nanagrpid) * 32 + std::size_t(id.mnan) * 4;
    EXPECT_LE(log_size, std::size_t(4096) << id.mdts);
  }
  auto ns1 = as<nvme_id_ns>(admin_[0]->run(identify_sqe(NVME_IDENTIFY_CNS_NS, 1), 4096));
  auto ns2 = as<nvme_id_ns>(admin_[0]->run(identify_sqe(NVME_IDENTIFY_CNS_NS, 2), 4096));
  EXPECT_EQ(ns1.anagrpid, 1u);
  EXPECT_EQ(ns2.anagrpid, 2u);
  EXPECT_EQ(ns1.nmic, NVME_NS_NMIC_SHARED);
}

TEST_F(AnaTest, LogListsEachGroupWithItsNamespacesAndState) {
  target_->set_ana_state(1, 2, target::AnaState::non_optimized);
  auto c = ana_log(0);
  ASSERT_TRUE(c.status().ok()) << c.status().to_string();
  const auto* bytes = c.data.data();
  auto u32 = [&](std::size_t at) { std::uint32_t v; std::memcpy(&v, bytes + at, 4); return v; };
  nvme_ana_log header;
  std::memcpy(&header, bytes, sizeof header);
  EXPECT_EQ(header.chgcnt, 1u);
  ASSERT_EQ(header.ngrps, 2);
  // Group 1: NSID 1, optimized; group 2 follows its one NSID.
  EXPECT_EQ(u32(16), 1u);
  EXPECT_EQ(u32(20), 1u);
  EXPECT_EQ(std::to_integer<int>(bytes[32]), NVME_ANA_STATE_OPTIMIZED);
  EXPECT_EQ(u32(48), 1u);  // the NSID list
  EXPECT_EQ(u32(52), 2u);
  EXPECT_EQ(u32(56), 1u);
  EXPECT_EQ(std::to_integer<int>(bytes[68]), NVME_ANA_STATE_NONOPTIMIZED);
  EXPECT_EQ(u32(84), 2u);
  EXPECT_EQ(u32(88), 0u);  // nothing after the last descriptor

  // The other port's view: both groups optimized.
  auto other = ana_log(1);
  EXPECT_EQ(std::to_integer<int>(other.data[68]), NVME_ANA_STATE_OPTIMIZED);

  // RGO: descriptors only, NNSIDS 0.
  auto groups = ana_log(0, 4096, 0, true);
  ASSERT_TRUE(groups.status().ok());
  std::memcpy(&header, groups.data.data(), sizeof header);
  EXPECT_EQ(header.ngrps, 2);
  std::uint32_t v;
  std::memcpy(&v, groups.data.data() + 20, 4);
  EXPECT_EQ(v, 0u);
  std::memcpy(&v, groups.data.data() + 48, 4);
  EXPECT_EQ(v, 2u);  // group 2's descriptor right after group 1's
  EXPECT_EQ(std::to_integer<int>(groups.data[64]), NVME_ANA_STATE_NONOPTIMIZED);

  // Read in pieces with LPO: the same bytes.
  auto piece = ana_log(0, 40, 48);
  ASSERT_TRUE(piece.status().ok());
  EXPECT_TRUE(std::equal(piece.data.begin(), piece.data.end(), c.data.begin() + 48));
  EXPECT_TRUE(ana_log(0, 8, 6).status().same_code(nvme::Status::generic(NVME_SC_INVALID_FIELD)));  // unaligned
}

TEST_F(AnaTest, IoGetsThePathStatusOfEveryState) {
  struct Case {
    target::AnaState state;
    nvme::Status expected;
  };
  const Case cases[] = {
      {target::AnaState::non_optimized, nvme::Status::success()},
      {target::AnaState::inaccessible, nvme::Status::make(NVME_SCT_PATH, NVME_SC_ANA_INACCESSIBLE)},
      {target::AnaState::persistent_loss, nvme::Status::make(NVME_SCT_PATH, NVME_SC_ANA_PERSISTENT_LOSS)},
      {target::AnaState::change, nvme::Status::make(NVME_SCT_PATH, NVME_SC_ANA_TRANSITION)},
      {target::AnaState::optimized, nvme::Status::success()},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(target::ana_state_name(c.state));
    target_->set_ana_state(1, 1, c.state);
    const nvme::Status st = read_status(0, 1);
    EXPECT_EQ(st, c.expected) << st.to_string();
    EXPECT_FALSE(st.dnr());  // the host may retry on another path
    std::vector<std::byte> data(512, std::byte{7});
    EXPECT_EQ(io_[0]->run(io_sqe(nvme_cmd_write, 1, 3, 1), 512, data.data()).status(), c.expected);
    EXPECT_TRUE(read_status(0, 2).ok());  // group 2 on the same port
    EXPECT_TRUE(read_status(1, 1).ok());  // group 1 on the other port
    auto log = ana_log(0);
    EXPECT_EQ(std::to_integer<int>(log.data[32]), static_cast<int>(c.state));
  }
  // Status codes as the NVMe Base spec's Path Related Status values number them.
  EXPECT_EQ(target::ana_io_status(target::AnaState::persistent_loss).sc(), 0x01);
  EXPECT_EQ(target::ana_io_status(target::AnaState::inaccessible).sc(), 0x02);
  EXPECT_EQ(target::ana_io_status(target::AnaState::change).sc(), 0x03);
  EXPECT_EQ(target::ana_io_status(target::AnaState::change).sct(), 0x3);
}

TEST_F(AnaTest, ChangeNoticeGoesToThePortsControllersThatEnabledIt) {
  enable_ana_notices(0);
  enable_ana_notices(1);
  admin_[0]->submit(admin_sqe(nvme_admin_async_event));
  admin_[1]->submit(admin_sqe(nvme_admin_async_event));
  target_->set_ana_state(1, 1, target::AnaState::inaccessible);
  ASSERT_TRUE(admin_[0]->wait_for(1));
  EXPECT_EQ(admin_[0]->completions().front().cqe.dw0, kAnaNotice);
  admin_[0]->completions().clear();
  drain();
  EXPECT_TRUE(admin_[1]->completions().empty());  // port 2 did not change

  // Masked until the log is read without RAE.
  admin_[0]->submit(admin_sqe(nvme_admin_async_event));
  target_->set_ana_state(1, 1, target::AnaState::change);
  drain();
  EXPECT_TRUE(admin_[0]->completions().empty());
  ASSERT_TRUE(ana_log(0, 4096, 0, false, true).status().ok());  // RAE keeps the mask
  target_->set_ana_state(1, 1, target::AnaState::persistent_loss);
  drain();
  EXPECT_TRUE(admin_[0]->completions().empty());
  ASSERT_TRUE(ana_log(0).status().ok());
  admin_[0]->completions().clear();
  target_->set_ana_state(1, 1, target::AnaState::optimized);
  ASSERT_TRUE(admin_[0]->wait_for(1));
  EXPECT_EQ(admin_[0]->completions().front().cqe.dw0, kAnaNotice);
  admin_[0]->completions().clear();

  // Setting the state it already has changes nothing and raises nothing.
  ASSERT_TRUE(ana_log(0).status().ok());
  admin_[0]->completions().clear();
  target_->set_ana_state(1, 1, target::AnaState::optimized);
  drain();
  EXPECT_TRUE(admin_[0]->completions().empty());

  // A controller that did not enable the notice (AEC bit 11 clear) gets none.
  ASSERT_TRUE(admin_[1]->run(admin_sqe(nvme_admin_set_features, 0, NVME_FEAT_FID_ASYNC_EVENT, 0)).status().ok());
  admin_[1]->completions().clear();
  target_->set_ana_state(2, 1, target::AnaState::inaccessible);
  drain();
  EXPECT_TRUE(admin_[1]->completions().empty());
}

TEST_F(AnaTest, SetAnaStateRefusalsNameTheField) {
  auto refused = [&](std::uint16_t port, std::uint32_t group, const std::string& field) {
    try {
      target_->set_ana_state(port, group, target::AnaState::inaccessible);
      ADD_FAILURE() << "accepted port " << port << " group " << group;
    } catch (const target::ConfigError& e) {
      EXPECT_EQ(e.field(), field) << e.what();
    }
  };
  refused(9, 1, "port");
  registry_->add_port(target::Port{3, target::parse_listen_address("tcp:127.0.0.1:8009"), false, {}});
  refused(3, 1, "port");  // discovery only: no namespaces there
  refused(1, 0, "group");
  refused(1, target::kMaxAnaGroups + 1, "group");
  EXPECT_TRUE(read_status(0, 1).ok());  // nothing applied
  EXPECT_EQ(target::parse_ana_state("persistent-loss"), target::AnaState::persistent_loss);
  EXPECT_FALSE(target::parse_ana_state("Optimized"));
}

TEST_F(AnaTest, WithoutRoomForTheLogAnaIsNotReported) {
  admin_[0].reset(), admin_[1].reset(), io_[0].reset(), io_[1].reset();
  drain();
  start(4096);  // MDTS 4 KiB cannot hold the 8 KiB ANA log
  auto id = as<nvme_id_ctrl>(admin_[0]->run(identify_sqe(NVME_IDENTIFY_CNS_CTRL), 4096));
  EXPECT_FALSE(id.cmic & NVME_CTRL_CMIC_MULTI_ANA_REPORTING);
  EXPECT_FALSE(id.oaes & NVME_CTRL_OAES_ANA);
  EXPECT_EQ(id.mnan, 0u);
  EXPECT_TRUE(ana_log(0).status().same_code(nvme::Status::generic(NVME_SC_INVALID_FIELD)));
  EXPECT_TRUE(admin_[0]
                  ->run(admin_sqe(nvme_admin_set_features, 0, NVME_FEAT_FID_ASYNC_EVENT, NVME_CTRL_OAES_ANA))
                  .status()
                  .same_code(nvme::Status::generic(NVME_SC_INVALID_FIELD)));
  EXPECT_THROW(target_->set_ana_state(1, 1, target::AnaState::inaccessible), target::ConfigError);
}

// --- configuration ------------------------------------------------------------------------------------------

using nlohmann::json;

void expect_refused(const json& doc, const std::string& pointer, const std::string& reason) {
  try {
    target::parse_config(doc, "cfg.json").config.validate();
    ADD_FAILURE() << "accepted; expected a refusal at " << pointer;
  } catch (const target::ConfigError& e) {
    EXPECT_EQ(e.field(), "cfg.json: " + pointer) << e.what();
    EXPECT_NE(e.reason().find(reason), std::string::npos) << e.what();
  }
}

json native_doc() {
  return json::parse(R"({
    "listeners": [{"address": "tcp:127.0.0.1:4420", "ana_groups": [{"grpid": 2, "state": "inaccessible"}]},
                  "tcp:127.0.0.1:4421"],
    "subsystems": [{"nqn": "nqn.2024-01.io.nvmf:a",
                    "namespaces": [{"backend": "ram", "size": "1M"}, {"backend": "ram", "size": "1M", "ana_grpid": 2}]}]
  })");
}

json nvmetcli_doc() {
  return json::parse(R"({
    "hosts": [],
    "ports": [{"addr": {"adrfam": "ipv4", "traddr": "127.0.0.1", "treq": "not specified", "trsvcid": "4420",
                        "trtype": "tcp"},
               "ana_groups": [{"ana": {"state": "optimized"}, "grpid": 1},
                              {"ana": {"state": "persistent-loss"}, "grpid": 3}],
               "portid": 1, "referrals": [], "subsystems": ["nqn.2014-08.org.example:sub1"]}],
    "subsystems": [{"nqn": "nqn.2014-08.org.example:sub1", "attr": {"allow_any_host": "1"},
                    "namespaces": [{"nsid": 1, "enable": 1, "ana_grpid": 3, "device": {"path": "/tmp/x"}}]}]
  })");
}

TEST(AnaConfig, NativeSchemaReadsGroupsAndStatesAndWritesThemBack) {
  auto c = target::parse_config(native_doc(), "cfg.json").config;
  c.validate();
  ASSERT_EQ(c.listener_ana_states.count(0), 1u);
  EXPECT_EQ(c.listener_ana_states.at(0).at(2), target::AnaState::inaccessible);
  EXPECT_EQ(c.listener_ana_states.count(1), 0u);
  EXPECT_EQ(c.subsystems[0].namespaces[0].ana_grpid, 1u);
  EXPECT_EQ(c.subsystems[0].namespaces[1].ana_grpid, 2u);
  // save-config's JSON (NSIDs resolved, as save-config writes them) reads back the same.
  for (auto& s : c.subsystems) s = target::resolve_defaults(s);
  auto again = target::parse_config(target::to_json(c), "saved.json").config;
  EXPECT_EQ(again.listener_ana_states, c.listener_ana_states);
  EXPECT_EQ(again.subsystems[0].namespaces[1].ana_grpid, 2u);
}

TEST(AnaConfig, NvmetcliPortsCarryAnaGroups) {
  auto c = target::parse_config(nvmetcli_doc(), "cfg.json").config;
  c.validate();
  EXPECT_EQ(c.listener_ana_states.at(0).at(1), target::AnaState::optimized);
  EXPECT_EQ(c.listener_ana_states.at(0).at(3), target::AnaState::persistent_loss);
  EXPECT_EQ(c.subsystems[0].namespaces[0].ana_grpid, 3u);
}

TEST(AnaConfig, BadValuesAreRefusedNamingTheField) {
  auto doc = native_doc();
  doc["listeners"][0]["ana_groups"][0]["state"] = "sleepy";
  expect_refused(doc, "/listeners/0/ana_groups/0/state", "expected optimized");
  doc = native_doc();
  doc["listeners"][0]["ana_groups"][0]["grpid"] = 0;
  expect_refused(doc, "/listeners/0/ana_groups/0/grpid", "");
  doc = native_doc();
  doc["listeners"][0]["ana_groups"].push_back(json{{"grpid", 2}, {"state", "optimized"}});
  expect_refused(doc, "/listeners/0/ana_groups/1/grpid", "listed twice");
  doc = native_doc();
  doc["subsystems"][0]["namespaces"][1]["ana_grpid"] = 129;
  expect_refused(doc, "/subsystems/0/namespaces/1/ana_grpid", "");
  doc = nvmetcli_doc();
  doc["ports"][0]["ana_groups"][1]["ana"]["state"] = "gone";
  expect_refused(doc, "/ports/0/ana_groups/1/ana/state", "expected optimized");
  doc = nvmetcli_doc();
  doc["subsystems"][0]["namespaces"][0]["ana_grpid"] = 0;
  expect_refused(doc, "/subsystems/0/namespaces/0/ana_grpid", "");
}

}  // namespace
}  // namespace nvmf::test
