#include "tests/functional/target_fixture.hpp"

#include <fstream>
#include <sstream>
#include <thread>

#include "target/target.hpp"

namespace nvmf::test {

namespace {
using Clock = std::chrono::steady_clock;

// "tcp:127.0.0.1:4420" or "tcp:[::1]:4420" (ListenAddress::to_string), one per line.
bool parse_endpoint(const std::string& line, Endpoint* out) {
  auto first = line.find(':');
  auto last = line.rfind(':');
  if (first == std::string::npos || last == first) return false;
  std::string addr = line.substr(first + 1, last - first - 1);
  if (addr.size() > 2 && addr.front() == '[' && addr.back() == ']') addr = addr.substr(1, addr.size() - 2);
  out->traddr = addr;
  out->trsvcid = line.substr(last + 1);
  while (!out->trsvcid.empty() && (out->trsvcid.back() == '\r' || out->trsvcid.back() == ' ')) out->trsvcid.pop_back();
  return !out->trsvcid.empty();
}
}  // namespace

target::TargetConfig make_target_config(const TargetSpec& spec) {
  target::TargetConfig tc;
  for (unsigned i = 0; i < spec.listeners; ++i) tc.listeners.push_back(target::parse_listen_address("tcp:127.0.0.1:0"));
  tc.discovery_port = 0;
  tc.cores = {0};
  tc.log_level = log::Level::warn;
  for (const SubsystemSpec& s : spec.subsystems) {
    target::SubsystemConfig sc;
    sc.nqn = s.nqn;
    sc.serial = s.serial;
    sc.model = s.model;
    sc.allowed_hosts = s.allowed_hosts;
    for (const NamespaceSpec& n : s.namespaces)
      sc.namespaces.push_back(target::NamespaceConfig{n.null_backend ? target::BackendKind::null : target::BackendKind::ram,
                                                      n.size_bytes, "", n.block_size, 0});
    for (std::size_t i = 0; i < s.namespaces.size(); ++i) sc.namespaces[i].faults = s.namespaces[i].faults;
    tc.subsystems.push_back(sc);
  }
  return tc;
}

initiator::ControllerOptions host_options(const Endpoint& endpoint, const std::string& subnqn) {
  initiator::ControllerOptions o;
  o.traddr = endpoint.traddr;
  o.trsvcid = endpoint.trsvcid;
  o.subnqn = subnqn;
  o.hostnqn = kTestHostNqn;
  o.hostid = kTestHostId;
  o.admin_timeout = std::chrono::milliseconds(5000);
  o.io_timeout = std::chrono::milliseconds(10000);
  o.connect_timeout = std::chrono::milliseconds(5000);
  return o;
}

EmbeddedTarget::EmbeddedTarget() = default;
EmbeddedTarget::~EmbeddedTarget() { stop(); }

bool EmbeddedTarget::start(const TargetSpec& spec, std::string* error) {
  try {
    target_ = std::make_unique<target::Target>(make_target_config(spec));
    target_->start();
  } catch (const std::exception& e) {
    *error = std::string("embedded target: ") + e.what();
    target_.reset();
    return false;
  }
  for (const auto& a : target_->listen_addresses()) endpoints_.push_back(Endpoint{a.traddr, a.trsvcid});
  if (endpoints_.size() < spec.listeners) {
    *error = "embedded target bound " + std::to_string(endpoints_.size()) + " listeners";
    return false;
  }
  return true;
}

void EmbeddedTarget::stop() {
  if (target_) target_->stop();
  target_.reset();
}

bool TargetProcess::start(const TargetSpec& spec, std::string* error, std::chrono::milliseconds timeout) {
  const std::string ready = dir_.file("ready");
  std::vector<std::string> argv = {nvmf_binary(), "target", "--ready-file", ready, "--discovery-port", "0",
                                   "--cores", "0"};
  for (unsigned i = 0; i < spec.listeners; ++i) argv.insert(argv.end(), {"--listen", "tcp:127.0.0.1:0"});
  // One subsystem from the command line; several need a configuration file.
  if (spec.subsystems.size() != 1) {
    *error = "TargetProcess supports one subsystem";
    return false;
  }
  const SubsystemSpec& s = spec.subsystems[0];
  argv.insert(argv.end(), {"--subsystem", s.nqn, "--serial", s.serial, "--model", s.model});
  for (const auto& h : s.allowed_hosts) argv.insert(argv.end(), {"--allow-host", h});
  // The command line takes one block size for all namespaces.
  if (!s.namespaces.empty()) argv.insert(argv.end(), {"--block-size", std::to_string(s.namespaces[0].block_size)});
  for (const auto& n : s.namespaces)
    argv.insert(argv.end(), {"--namespace", std::string(n.faults.empty() ? "" : "fault:") + (n.null_backend ? "null:" : "ram:") +
                                                std::to_string(n.size_bytes) +
                                                (n.faults.empty() ? "" : "?" + n.faults)});
  if (!process_.start(argv, dir_.file("target.log"), error)) return false;

  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (!process_.running()) {
      *error = "nvmf target exited early:\n" + process_.log();
      return false;
    }
    std::ifstream f(ready);
    std::string line;
    endpoints_.clear();
    while (std::getline(f, line)) {
      Endpoint ep;
      if (parse_endpoint(line, &ep)) endpoints_.push_back(ep);
    }
    if (endpoints_.size() >= spec.listeners) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  process_.stop();
  *error = "nvmf target did not write its ready file within " + std::to_string(timeout.count()) + " ms:\n" +
           process_.log();
  return false;
}

}  // namespace nvmf::test
