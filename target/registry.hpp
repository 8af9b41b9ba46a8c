// Everything a controller needs to know about the target as a whole: the subsystems (found by NQN at Connect),
// the built-in discovery subsystem, the ports the target listens on (for the discovery log), the limits every
// controller advertises, and the discovery generation counter. Shared by every connection; control path only,
// guarded by one mutex.
#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "fabric/transport.hpp"
#include "target/subsystem.hpp"

namespace nvmf::target {

/// A listening port as the discovery log describes it.
struct Port {
  std::uint16_t portid = 0;
  fabric::ListenAddress address;
  bool serves_nvm = true;  ///< NVM subsystems are listed on it; false for discovery-only ports (8009)
};

struct ControllerSettings {
  fabric::TransportLimits limits;
  std::uint16_t max_io_queues = 16;  ///< Granted at most by Set Features Number of Queues
};

/// A consistent view of what the discovery log lists.
struct DiscoverySnapshot {
  std::uint64_t generation = 0;
  std::vector<Port> ports;
  std::vector<std::shared_ptr<Subsystem>> subsystems;  ///< NVM subsystems, in creation order
};

class Registry {
 public:
  explicit Registry(ControllerSettings settings);

  const ControllerSettings& settings() const { return settings_; }
  std::chrono::steady_clock::time_point start_time() const { return start_time_; }

  /// Throws std::invalid_argument when the NQN is taken (including the discovery NQN).
  void add_subsystem(std::shared_ptr<Subsystem> subsystem);
  void add_port(Port port);
  /// Any subsystem by NQN, the discovery subsystem included; null when unknown.
  std::shared_ptr<Subsystem> find(const std::string& nqn) const;
  std::shared_ptr<Subsystem> discovery() const { return discovery_; }
  std::vector<std::shared_ptr<Subsystem>> subsystems() const;
  std::vector<Port> ports() const;
  DiscoverySnapshot discovery_snapshot() const;
  std::uint64_t generation() const;

 private:
  /// Bumps GENCTR and sends the discovery log change notice to discovery controllers that asked for it.
  void changed_locked();

  const ControllerSettings settings_;
  const std::chrono::steady_clock::time_point start_time_;
  const std::shared_ptr<Subsystem> discovery_;
  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<Subsystem>> subsystems_;
  std::vector<Port> ports_;
  std::uint64_t generation_ = 0;
};

}  // namespace nvmf::target
