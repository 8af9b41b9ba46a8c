// A real `nvmf target` process on 127.0.0.1 with an ephemeral port, configured by the test, and the addresses
// it reported in its ready file. Tests describe the subsystems they need; the fixture turns that into the
// target's command line, waits (bounded) for the ready file and kills the process when done.
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "initiator/controller.hpp"
#include "target/config.hpp"
#include "tests/functional/process.hpp"

namespace nvmf::target {
class Target;
}

namespace nvmf::test {

struct NamespaceSpec {
  std::uint64_t size_bytes = 64ull << 20;
  std::uint32_t block_size = 512;
  std::string faults = {};  ///< Fault injection (docs/configuration.md); empty: none
  bool null_backend = false;  ///< null instead of RAM: reads return zeroes, writes are dropped
};

struct SubsystemSpec {
  std::string nqn;
  std::string serial = "NVMFTEST0001";
  std::string model = "nvmf functional test";
  std::vector<std::string> allowed_hosts;  ///< Empty: any host
  // One default namespace. Not a braced list: GCC 12 under -fsanitize=thread wrongly warns (maybe-uninitialized)
  // about copying from its initializer_list.
  std::vector<NamespaceSpec> namespaces = std::vector<NamespaceSpec>(1);
};

struct TargetSpec {
  std::vector<SubsystemSpec> subsystems;
  unsigned listeners = 1;  ///< TCP listeners on 127.0.0.1, each on its own ephemeral port
};

struct Endpoint {
  std::string traddr;
  std::string trsvcid;
};

inline constexpr const char* kTestHostNqn = "nqn.2014-08.org.nvmexpress:uuid:6a0d3b2c-7c3e-4b1f-9e51-5b6f0b1d2c3e";
inline constexpr const char* kTestHostId = "6a0d3b2c-7c3e-4b1f-9e51-5b6f0b1d2c3e";

/// The target configuration a spec describes (listeners on 127.0.0.1 port 0, no discovery-only port).
target::TargetConfig make_target_config(const TargetSpec& spec);
/// Controller options aimed at `endpoint` for `subnqn`, with the fixed test host identity.
initiator::ControllerOptions host_options(const Endpoint& endpoint, const std::string& subnqn);

/// The target in this process (the library tests): same wire, no process to manage, sanitizers see both sides.
class EmbeddedTarget {
 public:
  EmbeddedTarget();
  ~EmbeddedTarget();
  bool start(const TargetSpec& spec, std::string* error);
  void stop();
  const std::vector<Endpoint>& endpoints() const { return endpoints_; }
  const Endpoint& endpoint() const { return endpoints_.front(); }
  std::string log() const { return "(embedded target: its log is on stderr)"; }
  initiator::ControllerOptions options(const std::string& subnqn, std::size_t index = 0) const {
    return host_options(endpoints_.at(index), subnqn);
  }
  /// The running target, for live changes (namespaces, referrals) during a test.
  target::Target& target() { return *target_; }

 private:
  std::unique_ptr<target::Target> target_;
  std::vector<Endpoint> endpoints_;
};

/// `nvmf target` as a separate process (the command-line tests).
class TargetProcess {
 public:
  /// Start and wait until it listens; false (and *error with the target's log) on failure or timeout.
  bool start(const TargetSpec& spec, std::string* error,
             std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));
  void stop() { process_.stop(); }
  const std::vector<Endpoint>& endpoints() const { return endpoints_; }
  const Endpoint& endpoint() const { return endpoints_.front(); }
  std::string log() const { return process_.log(); }

  initiator::ControllerOptions options(const std::string& subnqn, std::size_t index = 0) const {
    return host_options(endpoints_.at(index), subnqn);
  }

 private:
  TempDir dir_;
  BackgroundProcess process_;
  std::vector<Endpoint> endpoints_;
};

}  // namespace nvmf::test
