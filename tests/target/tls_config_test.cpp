// TLS on the target side: listener policy from the command line, our JSON and nvmetcli's; per-host PSKs
// validated without echoing the key; discovery entries carrying TREQ and TSAS; the registry-backed PSK lookup.
#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "nvme/tls_psk.hpp"
#include "target/config.hpp"
#include "target/config_json.hpp"
#include "target/discovery.hpp"
#include "target/tls_keys.hpp"

using namespace nvmf;
using namespace nvmf::target;

namespace {
const char* kKey = "NVMeTLSkey-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:";
const char* kHost = "nqn.2014-08.org.nvmexpress:uuid:tls-host";
}  // namespace

TEST(TlsConfig, ListenAddressPolicy) {
  EXPECT_EQ(parse_listen_address("tcp:127.0.0.1:4420").tls, fabric::TlsPolicy::none);
  EXPECT_EQ(parse_listen_address("tcp:127.0.0.1:4420,tls=required").tls, fabric::TlsPolicy::required);
  EXPECT_EQ(parse_listen_address("tcp:[::1]:4420,tls=allowed").tls, fabric::TlsPolicy::allowed);
  EXPECT_THROW(parse_listen_address("tcp:127.0.0.1:4420,tls=maybe"), std::invalid_argument);
  EXPECT_THROW(parse_listen_address("rdma:127.0.0.1:4420,tls=required"), std::invalid_argument);
}

TEST(TlsConfig, NativeJsonRoundTripAndBadKey) {
  nlohmann::json doc = {
      {"listeners", {{{"address", "tcp:127.0.0.1:4420"}, {"tls", "required"}}}},
      {"subsystems", {{{"nqn", "nqn.2024-01.io.nvmf:a"}, {"namespaces", {{{"nsid", 1}, {"backend", "ram"}, {"size", "1M"}}}}}}},
      {"hosts", {{{"nqn", kHost}, {"tls_psk", kKey}}}}};
  auto loaded = parse_config(doc, "test.json");
  ASSERT_EQ(loaded.config.listeners.size(), 1u);
  EXPECT_EQ(loaded.config.listeners[0].tls, fabric::TlsPolicy::required);
  ASSERT_EQ(loaded.config.hosts.size(), 1u);
  EXPECT_EQ(loaded.config.hosts[0].tls_psk, kKey);
  loaded.config.validate();
  auto again = parse_config(to_json(loaded.config), "again.json");
  EXPECT_EQ(again.config.listeners[0].tls, fabric::TlsPolicy::required);
  EXPECT_EQ(again.config.hosts[0].tls_psk, kKey);

  // A mistyped key is refused naming the field and the reason, not the key.
  std::string bad = kKey;
  bad[20] = bad[20] == 'A' ? 'B' : 'A';
  doc["hosts"][0]["tls_psk"] = bad;
  auto broken = parse_config(doc, "test.json");
  try {
    broken.config.validate();
    FAIL() << "a bad key was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("tls_psk"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find(bad.substr(16, 20)), std::string::npos) << "the key leaked: " << e.what();
  }
}

TEST(TlsConfig, NvmetcliTreqTsas) {
  auto port = [](const char* treq, const char* tsas) {
    nlohmann::json addr = {{"trtype", "tcp"}, {"adrfam", "ipv4"}, {"traddr", "127.0.0.1"}, {"trsvcid", "4420"}};
    if (treq) addr["treq"] = treq;
    if (tsas) addr["tsas"] = tsas;
    return nlohmann::json{{"hosts", nlohmann::json::array()},
                          {"ports", {{{"portid", 1}, {"addr", addr}, {"subsystems", nlohmann::json::array()},
                                      {"referrals", nlohmann::json::array()}}}},
                          {"subsystems", nlohmann::json::array()}};
  };
  EXPECT_EQ(parse_config(port("required", "tls1.3"), "n.json").config.listeners[0].tls, fabric::TlsPolicy::required);
  EXPECT_EQ(parse_config(port("not required", "tls1.3"), "n.json").config.listeners[0].tls,
            fabric::TlsPolicy::allowed);
  EXPECT_EQ(parse_config(port("not specified", "none"), "n.json").config.listeners[0].tls, fabric::TlsPolicy::none);
  EXPECT_THROW(parse_config(port("required", "none"), "n.json"), ConfigError);
}

TEST(TlsConfig, DiscoveryEntriesCarryTreqAndTsas) {
  DiscoverySnapshot snap;
  for (auto policy : {fabric::TlsPolicy::none, fabric::TlsPolicy::allowed, fabric::TlsPolicy::required}) {
    Port p;
    p.portid = static_cast<std::uint16_t>(snap.ports.size() + 1);
    p.address = parse_listen_address("tcp:127.0.0.1:4420");
    p.address.tls = policy;
    p.serves_nvm = false;
    snap.ports.push_back(p);
  }
  auto page = build_discovery_log(snap, kHost);
  ASSERT_EQ(page.size(), 1024u + 3 * sizeof(nvmf_disc_log_entry));
  auto entry = [&](int i) {
    nvmf_disc_log_entry e;
    std::memcpy(&e, page.data() + 1024 + i * sizeof e, sizeof e);
    return e;
  };
  EXPECT_EQ(entry(0).treq & 3, NVMF_TREQ_NOT_SPECIFIED);
  EXPECT_EQ(entry(0).tsas.tcp.sectype, NVMF_TCP_SECTYPE_NONE);
  EXPECT_EQ(entry(1).treq & 3, NVMF_TREQ_NOT_REQUIRED);
  EXPECT_EQ(entry(1).tsas.tcp.sectype, NVMF_TCP_SECTYPE_TLS13);
  EXPECT_EQ(entry(2).treq & 3, NVMF_TREQ_REQUIRED);
  EXPECT_EQ(entry(2).tsas.tcp.sectype, NVMF_TCP_SECTYPE_TLS13);
}

TEST(TlsConfig, RegistryLookupFollowsRunTimeChanges) {
  auto registry = std::make_shared<Registry>(ControllerSettings{});
  auto lookup = make_psk_lookup(registry);
  std::string error;
  auto configured = nvme::tls::parse_interchange(kKey, &error);
  ASSERT_TRUE(configured);
  const auto tls = nvme::tls::derive_tls_psk(*configured, kHost, "nqn.2024-01.io.nvmf:a", 1);
  EXPECT_FALSE(lookup(tls.identity).found);
  HostConfig h;
  h.nqn = kHost;
  h.tls_psk = kKey;
  registry->set_host(h);
  auto m = lookup(tls.identity);
  ASSERT_TRUE(m.found) << m.why;
  EXPECT_TRUE(m.psk.key == tls.key);
  EXPECT_EQ(m.host, kHost);
  EXPECT_FALSE(lookup("NVMe0R01 nqn.other nqn.2024-01.io.nvmf:a").found);
  EXPECT_FALSE(lookup("not an identity").found);
  registry->remove_host(kHost);
  EXPECT_FALSE(lookup(tls.identity).found);
}
