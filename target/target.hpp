// The target service: reactors, listeners, the discovery service and the configured subsystems, started and
// stopped as one. Listeners come from the transports (fabric/tcp); every connection gets a QueueSession.
//
// Ports: each configured listener serves every NVM subsystem and the discovery subsystem; with a discovery port
// (default 8009) an extra discovery-only listener is opened on each listener address at that port (unless a
// configured listener already uses it). Port IDs in the discovery log: listeners 1..N in order, then the
// discovery-only ones.
#pragma once
#include <memory>
#include <vector>

#include "fabric/reactor.hpp"
#include "fabric/transport.hpp"
#include "target/config.hpp"
#include "target/queue_session.hpp"
#include "target/registry.hpp"

namespace nvmf::target {

/// Opens the backends of one subsystem (defaults already resolved). Throws std::runtime_error naming the
/// namespace and the reason.
std::shared_ptr<Subsystem> make_subsystem(const SubsystemConfig& config);

class Target {
 public:
  /// Validates the configuration and opens every backend; throws std::invalid_argument / std::runtime_error.
  explicit Target(TargetConfig config);
  ~Target();
  Target(const Target&) = delete;
  Target& operator=(const Target&) = delete;

  /// Starts the reactors and binds every listener; throws std::runtime_error naming the address on failure.
  void start();
  /// Stops accepting, closes every controller (in-flight I/O completes first), stops the reactors and makes
  /// every backend durable (fdatasync). Idempotent.
  void stop();

  /// The addresses actually bound (port 0 replaced by the ephemeral port), I/O listeners first.
  std::vector<fabric::ListenAddress> listen_addresses() const;
  const std::shared_ptr<Registry>& registry() const { return registry_; }

 private:
  // Destroyed bottom-up: listeners, then reactors (and the connections on them), then the factory and the
  // registry those connections used.
  TargetConfig config_;
  std::shared_ptr<Registry> registry_;
  std::unique_ptr<SessionFactory> factory_;
  std::unique_ptr<fabric::ReactorGroup> reactors_;
  std::vector<std::unique_ptr<fabric::Listener>> listeners_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace nvmf::target
