// The target service: reactors, listeners, the discovery service and the configured subsystems, started and
// stopped as one, and changed while running (target_changes.cpp). Listeners come from the transports
// (fabric/tcp, fabric/rdma) through target/transport_factory.hpp; every connection gets a QueueSession tied to
// its port.
//
// Ports: each configured listener serves every NVM subsystem (or the ones listed for it) and the discovery
// subsystem; with a discovery port (default 8009) an extra discovery-only listener is opened on each listener
// address at that port (unless a configured listener already uses it). Port IDs in the discovery log: listeners
// 1..N in order, then the discovery-only ones, then listeners added while running.
//
// Live changes run on the caller's thread (the control socket's), never on a reactor: they open backends and
// bind sockets, which may block. They are serialised by one mutex, validated first and applied whole, or refused
// with a ConfigError naming the field (nothing applied).
#pragma once
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "fabric/reactor.hpp"
#include "fabric/tls/tls_context.hpp"
#include "fabric/transport.hpp"
#include "target/config.hpp"
#include "target/namespace_factory.hpp"
#include "target/queue_session.hpp"
#include "target/registry.hpp"

namespace nvmf::target {

class Target {
 public:
  /// Validates the configuration and opens every backend; throws ConfigError (naming the field, e.g.
  /// "subsystems[0].namespaces[1].path") or std::runtime_error.
  explicit Target(TargetConfig config);
  ~Target();
  Target(const Target&) = delete;
  Target& operator=(const Target&) = delete;

  /// Starts the reactors and binds every listener; throws std::runtime_error naming the address on failure.
  void start();
  /// Stops accepting, closes every controller (in-flight I/O completes first), stops the reactors and makes
  /// every backend durable (fdatasync). Idempotent.
  void stop();

  /// The addresses actually bound (port 0 replaced by the ephemeral port), in port ID order.
  std::vector<fabric::ListenAddress> listen_addresses() const;
  const std::shared_ptr<Registry>& registry() const { return registry_; }
  /// What is served now, in configuration terms (NSIDs resolved, listeners as bound): `save-config`.
  TargetConfig current_config() const;

  // --- live changes (any thread but a reactor's). Refusals: ConfigError with the field, nothing applied.
  void add_subsystem(const SubsystemConfig& config);
  /// Its controllers are closed (in-flight I/O completes first).
  void remove_subsystem(const std::string& nqn);
  /// Returns the NSID (config.nsid 0: the lowest free one). Controllers get a Namespace Attribute Changed notice.
  std::uint32_t add_namespace(const std::string& nqn, NamespaceConfig config);
  /// New I/O to it fails with Invalid Namespace; commands in flight complete first.
  void remove_namespace(const std::string& nqn, std::uint32_t nsid);
  /// Re-reads the size of a file or block device namespace (nvmet's revalidate_size); true when it changed.
  bool revalidate_namespace(const std::string& nqn, std::uint32_t nsid);
  void add_host(const std::string& nqn, const std::string& host_nqn);
  /// The host's controllers on that subsystem are closed (as SPDK's nvmf_subsystem_remove_host).
  void remove_host(const std::string& nqn, const std::string& host_nqn);
  /// Binds a new listener; `only`: the subsystems it serves (empty: every one). Returns the bound address.
  fabric::ListenAddress add_listener(const fabric::ListenAddress& address, const std::vector<std::string>& only = {});
  /// Stops the listener bound to `address` and closes the controllers that connected through it (nvmet).
  void remove_listener(const fabric::ListenAddress& address);
  void add_referral(const ReferralConfig& referral);
  void remove_referral(const fabric::ListenAddress& address);
  /// Replaces a host's DH-HMAC-CHAP fields (empty dhchap_key: no authentication); other host fields stay.
  /// Applies from the next authentication on (target_hosts.cpp).
  void set_host_dhchap(const HostConfig& host);
  /// Adds or replaces a host's whole entry (credentials of every kind), validated first; the registry answers
  /// the next handshake and authentication with it, and save-config writes it (target_hosts.cpp).
  void set_host_config(const HostConfig& host);
  /// Forgets a host's entry: it connects from then on as a host without credentials. False when it had none.
  bool remove_host_config(const std::string& host_nqn);
  /// Sets port `portid`'s state for ANA group `grpid`; every controller connected through that port gets the
  /// ANA change notice (when it enabled it), and its I/O follows the new state at once (ana_control.cpp).
  /// Refusals: ConfigError naming "port", "group" or "state".
  void set_ana_state(std::uint16_t portid, std::uint32_t grpid, AnaState state);

  // --- reload (config_reload.cpp): SIGHUP, `nvmf target-ctl reload`, systemd's ExecReload.
  /// Where the configuration comes from: `read` reads it again (the file and the command line the target was
  /// started with; throws ConfigError named after the file), `locate` names a refusal of what it read after
  /// the file (target::locate).
  struct ConfigSource {
    std::function<TargetConfig()> read;
    std::function<ConfigError(const ConfigError&)> locate;
  };
  void set_config_source(ConfigSource source) { config_source_ = std::move(source); }
  /// Applies the difference between what runs and `wanted` through the live changes above; returns them, one
  /// line each. Refused whole (ConfigError, nothing left changed) when `wanted` is invalid, changes a setting
  /// that only applies at start, or one of its changes fails (the ones made are undone).
  std::vector<std::string> reload(const TargetConfig& wanted);
  /// reload() of what the configuration source reads now.
  std::vector<std::string> reload();

 private:
  struct Listening {
    Port port;
    std::unique_ptr<SessionFactory> factory;
    std::unique_ptr<fabric::Listener> listener;
    bool implicit_discovery = false;  ///< Opened because of discovery_port, not configured
  };

  /// Binds one port; throws std::runtime_error naming the address.
  void bind_locked(Port port, bool implicit_discovery = false);
  std::shared_ptr<Subsystem> subsystem_or_refuse(const std::string& nqn, const std::string& field) const;
  SubsystemConfig* subsystem_config_locked(const std::string& nqn);
  /// Closes every controller of `subsystem` matching `filter` and waits (bounded) until they are gone.
  template <typename Filter>
  void close_controllers(Subsystem& subsystem, Filter filter);

  // Destroyed bottom-up: listeners, then reactors (and the connections on them), then the factories and the
  // registry those connections used.
  mutable std::mutex mutex_;  ///< Serialises start/stop and live changes
  TargetConfig config_;       ///< Kept current by the live changes (subsystems resolved)
  std::shared_ptr<Registry> registry_;
  std::shared_ptr<const fabric::tls::ServerContext> tls_;  ///< PSK lookup from registry_ for TLS ports
  std::vector<std::unique_ptr<SessionFactory>> retired_factories_;  ///< Of removed listeners' connections
  std::unique_ptr<fabric::ReactorGroup> reactors_;
  std::vector<Listening> listeners_;
  bool started_ = false;
  bool stopped_ = false;
  std::mutex reload_mutex_;  ///< One reload at a time (the live changes it makes lock mutex_ one by one)
  ConfigSource config_source_;
};

}  // namespace nvmf::target
