// Configuration files: our own schema and nvmetcli's, detection by shape, the round trip of save-config, and
// every refusal naming the file, the JSON pointer, the value and the reason.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "target/config_json.hpp"
#include "target/target.hpp"
#include "temp_file.hpp"

namespace nvmf::test {
namespace {

using nlohmann::json;

json native_example() {
  return json::parse(R"({
    "listeners": ["tcp:127.0.0.1:4420", {"address": "tcp:[::1]:4421", "subsystems": ["nqn.2024-01.io.nvmf:a"]}],
    "discovery_port": 0,
    "subsystems": [
      {"nqn": "nqn.2024-01.io.nvmf:a", "serial": "SER1", "model": "M1", "firmware": "1.0",
       "allowed_hosts": ["nqn.2014-08.org.nvmexpress:uuid:h1"],
       "namespaces": [
         {"backend": "ram", "size": "1M"},
         {"nsid": 5, "backend": "null", "size": 8192, "block_size": 4096,
          "hosts": ["nqn.2014-08.org.nvmexpress:uuid:h1"], "uuid": "01234567-89ab-cdef-0123-456789abcdef"}]},
      {"nqn": "nqn.2024-01.io.nvmf:b", "namespaces": [{"backend": "file", "path": "/tmp/x.img"}],
       "cntlid_min": 10, "cntlid_max": 20}
    ],
    "hosts": [{"nqn": "nqn.2014-08.org.nvmexpress:uuid:h1"}],
    "referrals": ["tcp:10.0.0.9:8009", {"address": "rdma:10.0.0.8:4420", "portid": 7}],
    "cores": "0",
    "max_io_size": "256K", "in_capsule_data_size": 4096, "queue_depth": 64, "max_r2t_commands": 4,
    "max_io_queues": 4,
    "busy_poll": false, "log_level": "warn", "control_socket": "/tmp/ctl.sock"
  })");
}

json nvmetcli_example(const std::string& path) {
  return json::parse(R"({
    "hosts": [{"nqn": "nqn.2014-08.org.nvmexpress:uuid:h1"}],
    "ports": [
      {"addr": {"adrfam": "ipv4", "traddr": "127.0.0.1", "treq": "not specified", "trsvcid": "4420", "trtype": "tcp",
                "tsas": "none"},
       "param": {"inline_data_size": "16384", "pi_enable": "0"},
       "portid": 1,
       "referrals": [{"addr": {"adrfam": "ipv4", "traddr": "10.0.0.2", "treq": "not specified", "trsvcid": "8009",
                               "trtype": "tcp"}, "name": "r1", "portid": 3, "enable": 1}],
       "subsystems": ["nqn.2014-08.org.example:sub1"]},
      {"addr": {"adrfam": "ipv6", "traddr": "::1", "treq": "not specified", "trsvcid": "4421", "trtype": "tcp"},
       "portid": 2, "referrals": [], "subsystems": []}
    ],
    "subsystems": [
      {"nqn": "nqn.2014-08.org.example:sub1",
       "attr": {"allow_any_host": "0", "serial": "abcdef0123", "model": "Linux", "version": "1.3",
                "cntlid_min": "1", "cntlid_max": "65519", "pi_enable": "0"},
       "allowed_hosts": ["nqn.2014-08.org.nvmexpress:uuid:h1"],
       "namespaces": [
         {"nsid": 1, "enable": 1, "ana_grpid": 1,
          "device": {"path": ")" + path + R"(", "nguid": "00000000-0000-0000-0000-000000000000",
                     "uuid": "11111111-2222-3333-4444-555555555555"}},
         {"nsid": 2, "enable": 0, "device": {"path": "/nonexistent"}}]}
    ]
  })");
}

std::string write_file(const json& doc) {
  static int n = 0;
  std::string path = "/tmp/nvmf-config-test-" + std::to_string(getpid()) + "-" + std::to_string(n++) + ".json";
  std::ofstream(path) << doc.dump(2);
  return path;
}

/// Parses `doc` and expects a refusal at `pointer` whose reason contains `reason`.
void expect_refused(const json& doc, const std::string& pointer, const std::string& reason) {
  try {
    target::parse_config(doc, "cfg.json");
    ADD_FAILURE() << "accepted; expected a refusal at " << pointer;
  } catch (const target::ConfigError& e) {
    EXPECT_EQ(e.field(), "cfg.json: " + pointer) << e.what();
    EXPECT_NE(e.reason().find(reason), std::string::npos) << e.what();
  }
}

TEST(ConfigJson, NativeSchemaReadsEverySetting) {
  auto loaded = target::parse_config(native_example(), "cfg.json");
  const auto& c = loaded.config;
  EXPECT_EQ(loaded.format, target::ConfigFormat::native);
  ASSERT_EQ(c.listeners.size(), 2u);
  EXPECT_TRUE(c.listeners[1].ipv6);
  ASSERT_EQ(c.listener_subsystems.count(1), 1u);
  EXPECT_EQ(c.listener_subsystems.at(1), std::vector<std::string>{"nqn.2024-01.io.nvmf:a"});
  EXPECT_EQ(c.discovery_port, 0);
  ASSERT_EQ(c.subsystems.size(), 2u);
  const auto& a = c.subsystems[0];
  EXPECT_EQ(a.serial, "SER1");
  EXPECT_EQ(a.model, "M1");
  EXPECT_EQ(a.firmware, "1.0");
  EXPECT_EQ(a.allowed_hosts.size(), 1u);
  ASSERT_EQ(a.namespaces.size(), 2u);
  EXPECT_EQ(a.namespaces[0].kind, target::BackendKind::ram);
  EXPECT_EQ(a.namespaces[0].size, 1u << 20);
  EXPECT_EQ(a.namespaces[1].nsid, 5u);
  EXPECT_EQ(a.namespaces[1].block_size, 4096u);
  EXPECT_EQ(a.namespaces[1].hosts.size(), 1u);
  ASSERT_TRUE(a.namespaces[1].uuid);
  EXPECT_EQ((*a.namespaces[1].uuid)[0], 0x01);
  EXPECT_EQ((*a.namespaces[1].uuid)[15], 0xef);
  EXPECT_EQ(c.subsystems[1].namespaces[0].path, "/tmp/x.img");
  EXPECT_EQ(c.subsystems[1].cntlid_min, 10);
  ASSERT_EQ(c.referrals.size(), 2u);
  EXPECT_EQ(c.referrals[1].address.trtype, fabric::TransportType::rdma);
  EXPECT_EQ(c.referrals[1].portid, 7);
  EXPECT_EQ(c.cores, std::vector<int>{0});
  EXPECT_EQ(c.limits.max_io_size, 256u * 1024);
  EXPECT_EQ(c.limits.in_capsule_data_size, 4096u);
  EXPECT_EQ(c.limits.max_queue_depth, 64);
  EXPECT_EQ(c.limits.max_r2t_commands, 4);
  EXPECT_EQ(c.max_io_queues, 4);
  EXPECT_EQ(c.log_level, log::Level::warn);
  EXPECT_EQ(c.control_socket, "/tmp/ctl.sock");
  ASSERT_EQ(c.hosts.size(), 1u);
  EXPECT_EQ(c.hosts[0].nqn, "nqn.2014-08.org.nvmexpress:uuid:h1");
  EXPECT_NO_THROW(c.validate());
}

TEST(ConfigJson, HostEntriesAreValidatedAndUnique) {
  json doc = native_example();
  doc["hosts"].push_back(json{{"nqn", "nqn.2014-08.org.nvmexpress:uuid:h1"}});
  auto twice = target::parse_config(doc, "cfg.json").config;
  try {
    twice.validate();
    FAIL() << "a host configured twice was accepted";
  } catch (const target::ConfigError& e) {
    EXPECT_EQ(e.field(), "hosts[1].nqn");
    EXPECT_NE(e.reason().find("twice"), std::string::npos);
  }
  doc["hosts"] = json::array({json{{"nqn", "not an nqn"}}});
  EXPECT_THROW(target::parse_config(doc, "cfg.json").config.validate(), target::ConfigError);
  doc["hosts"] = json::array({json{{"nqn", "nqn.2014-08.org.nvmexpress:uuid:h1"}, {"colour", "red"}}});
  EXPECT_THROW(target::parse_config(doc, "cfg.json"), target::ConfigError);
}

TEST(ConfigJson, SavedConfigurationReadsBackTheSame) {
  auto first = target::parse_config(native_example(), "cfg.json").config;
  for (auto& s : first.subsystems) s = target::resolve_defaults(s);
  json saved = target::to_json(first);
  auto second = target::parse_config(saved, "saved.json").config;
  EXPECT_EQ(target::to_json(second), saved);
  EXPECT_EQ(second.subsystems[0].namespaces[0].nsid, 1u);
  EXPECT_EQ(second.listener_subsystems, first.listener_subsystems);
}

TEST(ConfigJson, NvmetcliSchemaMapsPortsSubsystemsAndReferrals) {
  TempFile img(1 << 20);
  auto loaded = target::parse_config(nvmetcli_example(img.path()), "saved.json");
  const auto& c = loaded.config;
  EXPECT_EQ(loaded.format, target::ConfigFormat::nvmetcli);
  EXPECT_EQ(c.discovery_port, 0);  // nvmet listens only on its ports
  ASSERT_EQ(c.listeners.size(), 2u);
  EXPECT_EQ(c.listeners[0].traddr, "127.0.0.1");
  EXPECT_EQ(c.listeners[0].trsvcid, "4420");
  EXPECT_TRUE(c.listeners[1].ipv6);
  EXPECT_EQ(c.listener_subsystems.at(0), std::vector<std::string>{"nqn.2014-08.org.example:sub1"});
  EXPECT_TRUE(c.listener_subsystems.at(1).empty());  // a port without subsystems: discovery only
  EXPECT_EQ(c.limits.in_capsule_data_size, 16384u);
  ASSERT_EQ(c.referrals.size(), 1u);
  EXPECT_EQ(c.referrals[0].address.traddr, "10.0.0.2");
  EXPECT_EQ(c.referrals[0].portid, 3);
  ASSERT_EQ(c.subsystems.size(), 1u);
  const auto& s = c.subsystems[0];
  EXPECT_EQ(s.serial, "abcdef0123");
  EXPECT_EQ(s.model, "Linux");
  EXPECT_EQ(s.allowed_hosts, std::vector<std::string>{"nqn.2014-08.org.nvmexpress:uuid:h1"});
  ASSERT_EQ(s.namespaces.size(), 1u);  // the disabled namespace is not served
  EXPECT_EQ(s.namespaces[0].kind, target::BackendKind::file);
  EXPECT_EQ(s.namespaces[0].path, img.path());
  EXPECT_FALSE(s.namespaces[0].nguid);  // all zeroes: none
  ASSERT_TRUE(s.namespaces[0].uuid);
  EXPECT_EQ((*s.namespaces[0].uuid)[0], 0x11);
  EXPECT_NO_THROW(c.validate());
  // The target builds from it (the file opens) and serves the subsystem only where the port says.
  target::Target t(c);
  EXPECT_NE(t.registry()->find("nqn.2014-08.org.example:sub1"), nullptr);
}

TEST(ConfigJson, NvmetcliAllowAnyHost) {
  auto doc = nvmetcli_example("/tmp/x");
  doc["subsystems"][0]["attr"]["allow_any_host"] = "1";
  doc["subsystems"][0]["allowed_hosts"] = json::array();
  auto c = target::parse_config(doc, "x.json").config;
  EXPECT_TRUE(c.subsystems[0].allowed_hosts.empty());
}

TEST(ConfigJson, RefusalsNameTheJsonPointer) {
  auto doc = native_example();
  doc["subsystems"][0]["namespaces"][1]["colour"] = "red";
  expect_refused(doc, "/subsystems/0/namespaces/1/colour", "unknown setting");

  doc = native_example();
  doc["subsystems"][0]["namespaces"][0]["size"] = "12Q";
  expect_refused(doc, "/subsystems/0/namespaces/0/size", "unknown suffix");

  doc = native_example();
  doc["subsystems"][0]["namespaces"][0]["backend"] = "tape";
  expect_refused(doc, "/subsystems/0/namespaces/0/backend", "unknown backend");

  doc = native_example();
  doc["subsystems"][1].erase("nqn");
  expect_refused(doc, "/subsystems/1/nqn", "missing");

  doc = native_example();
  doc["listeners"][0] = "tcp:localhost:4420";
  expect_refused(doc, "/listeners/0", "not an IP address");

  doc = native_example();
  doc["queue_depth"] = 4096;
  expect_refused(doc, "/queue_depth", "from 2 to 1024");

  doc = native_example();
  doc["busy_poll"] = "yes";
  expect_refused(doc, "/busy_poll", "true or false");

  doc = native_example();
  doc["log_level"] = "loud";
  expect_refused(doc, "/log_level", "expected error, warn");

  doc = native_example();
  doc["subsystems"][0]["namespaces"][1]["uuid"] = "xyz";
  expect_refused(doc, "/subsystems/0/namespaces/1/uuid", "16 bytes of hex");

  doc = native_example();
  doc.erase("listeners");
  expect_refused(doc, "/listeners", "missing");

  expect_refused(json::array(), "/", "JSON object");
}

TEST(ConfigJson, NvmetcliRefusals) {
  auto doc = nvmetcli_example("/tmp/x");
  doc["ports"][0]["addr"]["trtype"] = "loop";
  expect_refused(doc, "/ports/0/addr/trtype", "only tcp and rdma");

  doc = nvmetcli_example("/tmp/x");
  doc["ports"][0]["addr"]["treq"] = "required";
  expect_refused(doc, "/ports/0/addr/treq", "secure channel");

  doc = nvmetcli_example("/tmp/x");
  doc["ports"][0]["addr"]["adrfam"] = "fc";
  expect_refused(doc, "/ports/0/addr/adrfam", "ipv4 and ipv6");

  doc = nvmetcli_example("/tmp/x");
  doc["ports"][0]["param"]["pi_enable"] = "1";
  expect_refused(doc, "/ports/0/param/pi_enable", "protection information");

  doc = nvmetcli_example("/tmp/x");
  doc["ports"][0]["subsystems"][0] = "nqn.2014-08.org.example:nope";
  expect_refused(doc, "/ports/0/subsystems/0", "not defined in /subsystems");

  doc = nvmetcli_example("/tmp/x");
  doc["subsystems"][0]["allowed_hosts"][0] = "nqn.2014-08.org.nvmexpress:uuid:stranger";
  expect_refused(doc, "/subsystems/0/allowed_hosts/0", "not defined in /hosts");

  doc = nvmetcli_example("/tmp/x");
  doc["subsystems"][0]["attr"]["allow_any_host"] = "1";
  expect_refused(doc, "/subsystems/0/allowed_hosts", "must be empty");

  doc = nvmetcli_example("/tmp/x");
  doc["subsystems"][0]["allowed_hosts"] = json::array();
  expect_refused(doc, "/subsystems/0", "no host could connect");

  doc = nvmetcli_example("/tmp/x");
  doc["subsystems"][0]["attr"]["pi_enable"] = "1";
  expect_refused(doc, "/subsystems/0/attr/pi_enable", "protection information");

  doc = nvmetcli_example("/tmp/x");
  doc["ports"][1]["param"] = {{"inline_data_size", "8192"}};
  expect_refused(doc, "/ports/1/param/inline_data_size", "one size serves all ports");

  doc = nvmetcli_example("/tmp/x");
  doc["subsystems"][0]["namespaces"][0]["device"]["uuid"] = "not-a-uuid";
  expect_refused(doc, "/subsystems/0/namespaces/0/device/uuid", "16 bytes of hex");

  doc = nvmetcli_example("/tmp/x");
  doc["subsystems"][0]["namespaces"][0].erase("nsid");
  expect_refused(doc, "/subsystems/0/namespaces/0/nsid", "missing");
}

TEST(ConfigJson, ValidationAndOpenErrorsAreLocatedInTheFile) {
  // A value the schema reader accepts but validation refuses.
  auto doc = native_example();
  doc["subsystems"][0]["namespaces"][1]["block_size"] = 1024;
  auto loaded = target::parse_config(doc, "cfg.json");
  try {
    loaded.config.validate();
    ADD_FAILURE() << "accepted block size 1024";
  } catch (const target::ConfigError& e) {
    auto located = target::locate(e, loaded);
    EXPECT_EQ(located.field(), "cfg.json: /subsystems/0/namespaces/1/block_size");
    EXPECT_EQ(located.value(), "1024");
  }

  // A namespace file that cannot be opened, in nvmetcli's schema: named by its device path.
  TempFile img(1 << 20);
  auto nvmet = nvmetcli_example(img.path());
  nvmet["subsystems"][0]["namespaces"][1]["enable"] = 1;  // /nonexistent now served
  loaded = target::parse_config(nvmet, "saved.json");
  try {
    target::Target t(loaded.config);
    ADD_FAILURE() << "accepted a missing namespace file";
  } catch (const target::ConfigError& e) {
    auto located = target::locate(e, loaded);
    EXPECT_EQ(located.field(), "saved.json: /subsystems/0/namespaces/1/device/path");
    EXPECT_EQ(located.value(), "/nonexistent");
    EXPECT_NE(std::string(located.what()).find("No such file"), std::string::npos) << located.what();
  }

  // Duplicate NQN: validation names the second subsystem's nqn.
  doc = native_example();
  doc["subsystems"][1]["nqn"] = "nqn.2024-01.io.nvmf:a";
  loaded = target::parse_config(doc, "cfg.json");
  try {
    loaded.config.validate();
    ADD_FAILURE();
  } catch (const target::ConfigError& e) {
    EXPECT_EQ(target::locate(e, loaded).field(), "cfg.json: /subsystems/1/nqn");
  }
}

TEST(ConfigJson, FilesThatCannotBeReadOrParsed) {
  try {
    target::load_config_file("/nonexistent/cfg.json");
    ADD_FAILURE();
  } catch (const target::ConfigError& e) {
    EXPECT_EQ(e.field(), "/nonexistent/cfg.json");
  }
  std::string path = "/tmp/nvmf-config-test-bad-" + std::to_string(getpid()) + ".json";
  std::ofstream(path) << "{ \"listeners\": [ ";
  try {
    target::load_config_file(path);
    ADD_FAILURE();
  } catch (const target::ConfigError& e) {
    EXPECT_NE(e.reason().find("not valid JSON"), std::string::npos);
  }
  ::unlink(path.c_str());
  auto good = write_file(native_example());
  EXPECT_EQ(target::load_config_file(good).source, good);
  ::unlink(good.c_str());
}

}  // namespace
}  // namespace nvmf::test

// Added with the Prometheus endpoint: "metrics" is a tcp:ADDR:PORT address, absent by default, saved as given.
namespace nvmf::test {
namespace {
TEST(ConfigJson, MetricsEndpointIsATcpAddress) {
  json doc = native_example();
  EXPECT_FALSE(target::parse_config(doc, "cfg.json").config.metrics.has_value());
  doc["metrics"] = "tcp:127.0.0.1:9464";
  auto c = target::parse_config(doc, "cfg.json").config;
  ASSERT_TRUE(c.metrics.has_value());
  EXPECT_EQ(c.metrics->to_string(), "tcp:127.0.0.1:9464");
  EXPECT_NO_THROW(c.validate());
  EXPECT_EQ(target::to_json(c)["metrics"], "tcp:127.0.0.1:9464");
  doc["metrics"] = "rdma:127.0.0.1:9464";
  try {
    target::parse_config(doc, "cfg.json").config.validate();
    FAIL() << "an RDMA metrics address was accepted";
  } catch (const target::ConfigError& e) {
    EXPECT_EQ(e.field(), "metrics");
  }
  doc["metrics"] = "http://127.0.0.1:9464";
  EXPECT_THROW(target::parse_config(doc, "cfg.json"), target::ConfigError);
}
}  // namespace
}  // namespace nvmf::test
