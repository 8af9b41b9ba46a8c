// A reload (SIGHUP, target-ctl reload) applies changed host credentials: a DH-HMAC-CHAP key or TLS PSK rotated in
// the file reaches the registry (the next handshake or authentication uses it) and the running configuration
// (save-config writes it); a host dropped from the file loses its entry; the changes it reports name the host,
// never the secret; a bad key is refused whole with nothing changed.
#include <gtest/gtest.h>

#include "nvme/dhchap_secret.hpp"
#include "target/config.hpp"
#include "target/registry.hpp"
#include "target/target.hpp"

namespace nvmf::test {
namespace {

constexpr const char* kHost = "nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555";
constexpr const char* kOther = "nqn.2014-08.org.nvmexpress:uuid:66666666-7777-8888-9999-000000000000";
// A valid interchange-format PSK (libnvme's test vector).
constexpr const char* kPsk = "NVMeTLSkey-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:";

std::string new_dhchap_key() {
  return nvme::dhchap::format_secret(nvme::dhchap::generate_secret(32, nvme::dhchap::Hash::sha256, kHost));
}

target::TargetConfig base_config() {
  target::TargetConfig c;
  c.listeners.push_back(target::parse_listen_address("tcp:127.0.0.1:0"));
  target::SubsystemConfig s;
  s.nqn = "nqn.2024-01.io.nvmf:reload-hosts";
  target::NamespaceConfig ns;
  ns.kind = target::BackendKind::ram;
  ns.size = 1 << 20;
  s.namespaces.push_back(ns);
  c.subsystems.push_back(s);
  return c;
}

bool mentions(const std::vector<std::string>& changes, const std::string& text) {
  for (const auto& c : changes)
    if (c.find(text) != std::string::npos) return true;
  return false;
}

TEST(ReloadHosts, RotatedAddedAndRemovedCredentialsApply) {
  const std::string first = new_dhchap_key();
  target::TargetConfig running = base_config();
  target::HostConfig h;
  h.nqn = kHost;
  h.dhchap_key = first;
  running.hosts.push_back(h);
  target::Target target(running);
  ASSERT_EQ(target.registry()->host(kHost)->dhchap_key, first);

  // Rotate the key and add a second host with a TLS PSK.
  target::TargetConfig wanted = base_config();
  const std::string second = new_dhchap_key();
  ASSERT_NE(first, second);
  h.dhchap_key = second;
  wanted.hosts.push_back(h);
  target::HostConfig other;
  other.nqn = kOther;
  other.tls_psk = kPsk;
  wanted.hosts.push_back(other);
  auto changes = target.reload(wanted);
  EXPECT_EQ(target.registry()->host(kHost)->dhchap_key, second);
  EXPECT_EQ(target.registry()->host(kOther)->tls_psk, kPsk);
  EXPECT_EQ(target.current_config().hosts.size(), 2u);
  EXPECT_TRUE(mentions(changes, std::string("host ") + kHost + ": credentials changed"));
  EXPECT_TRUE(mentions(changes, std::string("host ") + kOther + ": credentials added"));
  for (const auto& c : changes) {
    EXPECT_EQ(c.find(second), std::string::npos) << "a secret in a reported change: " << c;
    EXPECT_EQ(c.find(kPsk), std::string::npos) << "a secret in a reported change: " << c;
  }

  // The same file again changes nothing.
  EXPECT_TRUE(target.reload(wanted).empty());

  // Dropping a host from the file removes its entry.
  wanted.hosts.pop_back();
  changes = target.reload(wanted);
  EXPECT_FALSE(target.registry()->host(kOther).has_value());
  EXPECT_TRUE(mentions(changes, std::string("host ") + kOther + ": credentials removed"));
  EXPECT_EQ(target.current_config().hosts.size(), 1u);
}

TEST(ReloadHosts, BadKeyIsRefusedWholeAndNamesNoSecret) {
  const std::string key = new_dhchap_key();
  target::TargetConfig running = base_config();
  target::HostConfig h;
  h.nqn = kHost;
  h.dhchap_key = key;
  running.hosts.push_back(h);
  target::Target target(running);

  target::TargetConfig wanted = base_config();
  const std::string bad = "DHHC-1:01:bm90IGEgdmFsaWQga2V5IGF0IGFsbCBub3QgYXQgYWxs:";
  h.dhchap_key = bad;
  wanted.hosts.push_back(h);
  try {
    target.reload(wanted);
    FAIL() << "a malformed DH-HMAC-CHAP key was accepted";
  } catch (const target::ConfigError& e) {
    EXPECT_EQ(std::string(e.what()).find(bad), std::string::npos) << e.what();
  }
  EXPECT_EQ(target.registry()->host(kHost)->dhchap_key, key);
}

}  // namespace
}  // namespace nvmf::test
