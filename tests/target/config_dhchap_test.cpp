// DH-HMAC-CHAP fields of a host entry: our JSON (read and written back), nvmetcli's saved hosts (flat dhchap_*
// attributes and the "dhchap" attribute group), live changes through Target::set_host_dhchap, and refusals that
// name the field but never show the secret.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "nvme/dhchap_secret.hpp"
#include "target/config.hpp"
#include "target/config_json.hpp"

namespace nvmf {
namespace {

using nlohmann::json;
using namespace nvme::dhchap;

constexpr const char* kHost = "nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555";

std::string key(std::size_t n = 32) { return format_secret(generate_secret(n, std::nullopt, "")); }

json native(const json& host) {
  return json{{"listeners", {"tcp:127.0.0.1:4420"}},
              {"subsystems", {{{"nqn", "nqn.2024-01.io.nvmf:a"}, {"namespaces", {{{"backend", "ram"}, {"size", "1M"}}}}}}},
              {"hosts", {host}}};
}

TEST(ConfigDhchap, NativeHostEntryRoundTrips) {
  const std::string k = key(), c = key(48);
  json host{{"nqn", kHost}, {"dhchap_key", k}, {"dhchap_ctrl_key", c}, {"dhchap_hashes", {"sha512", "hmac(sha256)"}},
            {"dhchap_dhgroups", {"ffdhe2048", "null"}}};
  auto loaded = target::parse_config(native(host), "cfg.json");
  ASSERT_EQ(loaded.config.hosts.size(), 1u);
  const auto& h = loaded.config.hosts[0];
  EXPECT_EQ(h.dhchap_key, k);
  EXPECT_EQ(h.dhchap_ctrl_key, c);
  EXPECT_EQ(h.dhchap_hashes, (std::vector<std::string>{"sha512", "hmac(sha256)"}));
  EXPECT_EQ(h.dhchap_dhgroups, (std::vector<std::string>{"ffdhe2048", "null"}));
  EXPECT_NO_THROW(loaded.config.validate());
  auto again = target::parse_host_json(target::host_to_json(h), "/host");
  EXPECT_EQ(again.dhchap_key, k);
  EXPECT_EQ(again.dhchap_ctrl_key, c);
  EXPECT_EQ(again.dhchap_hashes, h.dhchap_hashes);
  EXPECT_EQ(again.dhchap_dhgroups, h.dhchap_dhgroups);
}

TEST(ConfigDhchap, NvmetcliHostAttributes) {
  const std::string k = key(), c = key(64);
  for (const json& host :
       {json{{"nqn", kHost}, {"dhchap_key", k}, {"dhchap_ctrl_key", c}, {"dhchap_hash", "hmac(sha384)"},
             {"dhchap_dhgroup", "ffdhe4096"}},
        json{{"nqn", kHost}, {"dhchap", {{"key", k}, {"ctrl_key", c}, {"hash", "hmac(sha384)"}, {"dhgroup", "ffdhe4096"}}}}}) {
    json doc{{"hosts", {host}},
             {"ports", json::array()},
             {"subsystems",
              {{{"nqn", "nqn.2024-01.io.nvmf:a"}, {"attr", {{"allow_any_host", "0"}}}, {"allowed_hosts", {kHost}},
                {"namespaces", json::array()}}}}};
    auto loaded = target::parse_config(doc, "saved.json");
    ASSERT_EQ(loaded.config.hosts.size(), 1u) << host.dump();
    const auto& h = loaded.config.hosts[0];
    EXPECT_EQ(h.dhchap_key, k);
    EXPECT_EQ(h.dhchap_ctrl_key, c);
    EXPECT_EQ(h.dhchap_hashes, std::vector<std::string>{"hmac(sha384)"});
    EXPECT_EQ(h.dhchap_dhgroups, std::vector<std::string>{"ffdhe4096"});
  }
}

TEST(ConfigDhchap, RefusalsNameTheFieldNotTheSecret) {
  std::string bad_crc = key();
  bad_crc[12] = bad_crc[12] == 'A' ? 'B' : 'A';
  struct Case {
    json host;
    std::string field, reason;
  };
  const std::vector<Case> cases = {
      {{{"nqn", kHost}, {"dhchap_key", bad_crc}}, "/hosts/0/dhchap_key", "CRC"},
      {{{"nqn", kHost}, {"dhchap_key", "DHHC-1:07:" + bad_crc.substr(10)}}, "/hosts/0/dhchap_key", "transformation"},
      {{{"nqn", kHost}, {"dhchap_ctrl_key", key()}}, "/hosts/0/dhchap_ctrl_key", "needs a host key"},
      {{{"nqn", kHost}, {"dhchap_key", key()}, {"dhchap_hashes", {"md5"}}}, "/hosts/0/dhchap_hashes", "unknown hash"},
      {{{"nqn", kHost}, {"dhchap_key", key()}, {"dhchap_dhgroups", {"ffdhe1024"}}}, "/hosts/0/dhchap_dhgroups",
       "unknown DH group"},
  };
  for (const auto& k : cases) {
    try {
      auto loaded = target::parse_config(native(k.host), "cfg.json");
      try {
        loaded.config.validate();
      } catch (const target::ConfigError& e) {
        throw target::locate(e, loaded);
      }
      ADD_FAILURE() << "accepted " << k.host.dump();
    } catch (const target::ConfigError& e) {
      EXPECT_EQ(e.field(), "cfg.json: " + k.field) << e.what();
      EXPECT_NE(e.reason().find(k.reason), std::string::npos) << e.what();
      if (k.host.contains("dhchap_key")) {
        EXPECT_EQ(std::string(e.what()).find(k.host["dhchap_key"].get<std::string>().substr(10, 16)), std::string::npos)
            << e.what();
      }
    }
  }
}

}  // namespace
}  // namespace nvmf
