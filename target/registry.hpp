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
#include <optional>
#include <string>
#include <vector>

#include "fabric/transport.hpp"
#include "target/ana.hpp"
#include "target/config.hpp"
#include "target/subsystem.hpp"

namespace nvmf::target {

/// A listening port as the discovery log describes it.
struct Port {
  std::uint16_t portid = 0;
  fabric::ListenAddress address;
  bool serves_nvm = true;  ///< NVM subsystems are listed on it; false for discovery-only ports (8009)
  std::vector<std::string> only = {};  ///< When not empty: the only NVM subsystems served here (nvmetcli ports)

  /// Connect to `nqn` through this port is allowed, and the discovery log lists it here.
  bool serves(const std::string& nqn) const;
};

/// A discovery referral (SUBTYPE 1 entry pointing to another discovery service).
struct Referral {
  std::uint16_t portid = 0;
  fabric::ListenAddress address;
};

struct ControllerSettings {
  fabric::TransportLimits limits;
  std::uint16_t max_io_queues = 16;  ///< Granted at most by Set Features Number of Queues
  /// A DH-HMAC-CHAP transaction silent for this long is dropped (nvmet: KATO, else 120 s).
  std::chrono::milliseconds auth_timeout{120000};
};

/// A consistent view of what the discovery log lists.
struct DiscoverySnapshot {
  std::uint64_t generation = 0;
  std::vector<Port> ports;
  std::vector<std::shared_ptr<Subsystem>> subsystems;  ///< NVM subsystems, in creation order
  std::vector<Referral> referrals;
};

class Registry {
 public:
  explicit Registry(ControllerSettings settings);

  const ControllerSettings& settings() const { return settings_; }
  std::chrono::steady_clock::time_point start_time() const { return start_time_; }

  /// Throws std::invalid_argument when the NQN is taken (including the discovery NQN).
  void add_subsystem(std::shared_ptr<Subsystem> subsystem);
  /// The removed subsystem, or null when unknown. Its controllers are the caller's to close.
  std::shared_ptr<Subsystem> remove_subsystem(const std::string& nqn);
  void add_port(Port port);
  /// False when no port has this ID.
  bool remove_port(std::uint16_t portid);
  /// A port ID not in use (the smallest above every current one).
  std::uint16_t next_portid() const;
  std::optional<Port> port(std::uint16_t portid) const;
  void add_referral(Referral referral);
  bool remove_referral(const fabric::ListenAddress& address);
  std::vector<Referral> referrals() const;
  /// Something a host may see in the discovery log changed: GENCTR moves and the discovery controllers of
  /// `host_nqn` (every host when empty) get the change notice.
  void discovery_changed(const std::string& host_nqn = {});
  /// Any subsystem by NQN, the discovery subsystem included; null when unknown.
  std::shared_ptr<Subsystem> find(const std::string& nqn) const;
  std::shared_ptr<Subsystem> discovery() const { return discovery_; }
  std::vector<std::shared_ptr<Subsystem>> subsystems() const;
  std::vector<Port> ports() const;
  DiscoverySnapshot discovery_snapshot() const;
  /// Per-host credentials (TLS PSK, DH-HMAC-CHAP keys) looked up when a host connects or authenticates; a
  /// change applies to the next handshake or authentication, never to queues already admitted.
  std::optional<HostConfig> host(const std::string& nqn) const;
  /// Adds or replaces the entry for host.nqn.
  void set_host(HostConfig host);
  /// False when the host had no entry.
  bool remove_host(const std::string& nqn);
  std::vector<HostConfig> hosts() const;
  std::uint64_t generation() const;
  /// Every port's ANA group states (own locking; I/O queues read their port's states lock-free).
  AnaStates& ana() { return ana_; }

 private:
  /// Bumps GENCTR and sends the discovery log change notice to discovery controllers that asked for it.
  void changed_locked(const std::string& host_nqn = {});

  const ControllerSettings settings_;
  const std::chrono::steady_clock::time_point start_time_;
  const std::shared_ptr<Subsystem> discovery_;
  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<Subsystem>> subsystems_;
  std::vector<Port> ports_;
  std::vector<Referral> referrals_;
  std::map<std::string, HostConfig> hosts_;
  std::uint64_t generation_ = 0;
  AnaStates ana_;
};

}  // namespace nvmf::target
