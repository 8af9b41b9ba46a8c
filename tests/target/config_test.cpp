// Configuration parsing and validation: every refusal names the field and the reason.
#include "target_fixture.hpp"

namespace nvmf::test {
namespace {

target::TargetConfig good() {
  target::TargetConfig c;
  c.listeners.push_back(target::parse_listen_address("tcp:127.0.0.1:4420"));
  target::SubsystemConfig s;
  s.namespaces.push_back(target::parse_namespace("ram:1M", 512));
  c.subsystems.push_back(s);
  return c;
}

void expect_refused(const target::TargetConfig& c, const std::string& needle) {
  try {
    c.validate();
    ADD_FAILURE() << "accepted; expected a refusal mentioning '" << needle << "'";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(Config, ParseSize) {
  EXPECT_EQ(target::parse_size("4096"), 4096u);
  EXPECT_EQ(target::parse_size("64K"), 65536u);
  EXPECT_EQ(target::parse_size("1M"), 1u << 20);
  EXPECT_EQ(target::parse_size("2G"), 2ull << 30);
  EXPECT_EQ(target::parse_size("1GiB"), 1ull << 30);
  EXPECT_EQ(target::parse_size("1T"), 1ull << 40);
  EXPECT_THROW(target::parse_size("12Q"), std::invalid_argument);
  EXPECT_THROW(target::parse_size("abc"), std::invalid_argument);
  EXPECT_THROW(target::parse_size("-1G"), std::invalid_argument);
  EXPECT_THROW(target::parse_size(""), std::invalid_argument);
}

TEST(Config, ParseNamespaceAndListen) {
  auto ns = target::parse_namespace("file:/tmp/x.img", 4096);
  EXPECT_EQ(ns.kind, target::BackendKind::file);
  EXPECT_EQ(ns.path, "/tmp/x.img");
  EXPECT_EQ(ns.block_size, 4096u);
  EXPECT_EQ(target::parse_namespace("null:1G", 512).kind, target::BackendKind::null);
  EXPECT_THROW(target::parse_namespace("disk:1G", 512), std::invalid_argument);
  EXPECT_THROW(target::parse_namespace("ram:", 512), std::invalid_argument);

  auto v6 = target::parse_listen_address("tcp:[::1]:4420");
  EXPECT_TRUE(v6.ipv6);
  EXPECT_EQ(v6.traddr, "::1");
  EXPECT_EQ(v6.trsvcid, "4420");
  EXPECT_EQ(v6.to_string(), "tcp:[::1]:4420");
  EXPECT_THROW(target::parse_listen_address("tcp:::1:4420"), std::invalid_argument);
  auto rdma = target::parse_listen_address("rdma:192.168.1.5:4420");
  EXPECT_EQ(rdma.trtype, fabric::TransportType::rdma);
  EXPECT_EQ(rdma.traddr, "192.168.1.5");
  EXPECT_EQ(rdma.to_string(), "rdma:192.168.1.5:4420");
  EXPECT_TRUE(target::parse_listen_address("rdma:[fe80::1]:4420").ipv6);
  EXPECT_THROW(target::parse_listen_address("fc:127.0.0.1:4420"), std::invalid_argument);
  EXPECT_THROW(target::parse_listen_address("tcp:127.0.0.1:70000"), std::invalid_argument);
  EXPECT_THROW(target::parse_listen_address("tcp:localhost:4420"), std::invalid_argument);
}

TEST(Config, DefaultsResolve) {
  auto c = good();
  EXPECT_NO_THROW(c.validate());
  auto s = target::resolve_defaults(c.subsystems[0]);
  EXPECT_EQ(s.nqn, target::kDefaultSubsystemNqn);
  EXPECT_FALSE(s.serial.empty());
  EXPECT_EQ(s.namespaces[0].nsid, 1u);
  c.subsystems[0].namespaces.push_back(target::parse_namespace("null:1M", 512));
  c.subsystems[0].namespaces[1].nsid = 7;
  c.subsystems[0].namespaces.push_back(target::parse_namespace("null:1M", 512));
  s = target::resolve_defaults(c.subsystems[0]);
  EXPECT_EQ(s.namespaces[2].nsid, 8u);
}

TEST(Config, Refusals) {
  auto c = good();
  c.listeners.clear();
  expect_refused(c, "listeners");

  c = good();
  c.subsystems[0].namespaces[0].block_size = 1024;
  expect_refused(c, "block_size");

  c = good();
  c.subsystems[0].namespaces[0].size = 1000;
  expect_refused(c, "multiple of the block size");

  c = good();
  c.subsystems[0].nqn = "iqn.2024-01.bad";
  expect_refused(c, "subsystems[0].nqn");

  c = good();
  c.subsystems[0].nqn = nvme::kDiscoveryNqn;
  expect_refused(c, "discovery NQN");

  c = good();
  c.subsystems.push_back(c.subsystems[0]);
  expect_refused(c, "configured twice");

  c = good();
  c.subsystems[0].namespaces.push_back(c.subsystems[0].namespaces[0]);
  c.subsystems[0].namespaces[0].nsid = 2;
  c.subsystems[0].namespaces[1].nsid = 2;
  expect_refused(c, "used twice");

  c = good();
  c.subsystems[0].serial = std::string(21, 'x');
  expect_refused(c, "serial");

  c = good();
  c.subsystems[0].allowed_hosts = {"host1"};
  expect_refused(c, "allowed_hosts[0]");

  c = good();
  c.limits.max_io_size = 100000;
  expect_refused(c, "max_io_size");

  c = good();
  c.limits.max_queue_depth = 1;
  expect_refused(c, "max_queue_depth");

  c = good();
  c.limits.in_capsule_data_size = 100;
  expect_refused(c, "in_capsule_data_size");

  c = good();
  c.cores = {0, 0};
  expect_refused(c, "cores");

  c = good();
  c.subsystems[0].namespaces[0] = target::NamespaceConfig{};
  c.subsystems[0].namespaces[0].kind = target::BackendKind::file;
  expect_refused(c, "path");
}

TEST(Config, TargetRefusesMissingFileBeforeStarting) {
  auto c = good();
  c.subsystems[0].namespaces[0] = target::parse_namespace("file:/nonexistent/disk.img", 512);
  try {
    target::Target t(c);
    ADD_FAILURE() << "accepted a missing file";
  } catch (const target::ConfigError& e) {
    EXPECT_EQ(e.field(), "subsystems[0].namespaces[0].path");
    EXPECT_EQ(e.value(), "/nonexistent/disk.img");
    EXPECT_NE(e.reason().find("No such file"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace nvmf::test
