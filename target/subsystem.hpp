// An NVM subsystem (or the discovery subsystem): its identity, which hosts may connect, its namespaces and the
// controllers currently associated with it. Everything here is control path (Connect, Identify, log pages, live
// configuration changes) and guarded by one mutex; the data path reads only immutable namespace table snapshots
// (a change installs a new table; see Controller::refresh_namespaces) and the per-queue counters.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "target/io_counters.hpp"
#include "target/namespace.hpp"

namespace nvmf::target {

class Controller;

enum class SubsystemKind { nvm, discovery };

struct SubsystemIdentity {
  std::string nqn;
  std::string serial;
  std::string model;
  std::string firmware;
};

class Subsystem {
 public:
  /// `allowed_hosts` empty: any host may connect. Controller IDs are handed out from [cntlid_min, cntlid_max].
  Subsystem(SubsystemKind kind, SubsystemIdentity identity, std::vector<std::string> allowed_hosts,
            std::shared_ptr<const NamespaceTable> namespaces, std::uint16_t cntlid_min = 1,
            std::uint16_t cntlid_max = 0xFFEF);

  SubsystemKind kind() const { return kind_; }
  const SubsystemIdentity& identity() const { return identity_; }
  const std::string& nqn() const { return identity_.nqn; }
  std::uint16_t cntlid_min() const { return cntlid_min_; }
  std::uint16_t cntlid_max() const { return cntlid_max_; }

  // --- hosts (any thread)
  bool host_allowed(const std::string& host_nqn) const;
  bool allows_any_host() const;
  std::vector<std::string> allowed_hosts() const;
  /// False when the host is already listed / not listed.
  bool add_host(const std::string& host_nqn);
  bool remove_host(const std::string& host_nqn);

  // --- namespaces (any thread)
  /// The current table (every namespace, whoever may see it).
  std::shared_ptr<const NamespaceTable> namespaces() const;
  /// Installs a new table; the caller then refreshes the controllers (Controller::refresh_namespaces).
  void set_namespaces(std::shared_ptr<const NamespaceTable> table);

  /// A free controller ID (1..FFEFh, dynamic model), reserved until release_cntlid; 0 when all are taken.
  std::uint16_t reserve_cntlid();
  void attach_controller(std::uint16_t cntlid, const std::shared_ptr<Controller>& controller);
  void release_cntlid(std::uint16_t cntlid);
  /// The live controller with this ID created for this host, else null (I/O queue Connect).
  std::shared_ptr<Controller> find_controller(std::uint16_t cntlid, const std::string& host_nqn) const;
  std::vector<std::shared_ptr<Controller>> controllers() const;

  /// I/O statistics for SMART: live queues register their counters; closing queues fold theirs in.
  void register_counters(const IoCounters* counters);
  void retire_counters(const IoCounters* counters);
  IoTotals io_totals() const;

 private:
  const SubsystemKind kind_;
  const SubsystemIdentity identity_;
  const std::uint16_t cntlid_min_;
  const std::uint16_t cntlid_max_;

  mutable std::mutex mutex_;
  std::vector<std::string> allowed_hosts_;
  std::shared_ptr<const NamespaceTable> namespaces_;
  std::map<std::uint16_t, std::weak_ptr<Controller>> controllers_;
  std::uint16_t next_cntlid_;
  std::set<const IoCounters*> live_counters_;
  IoTotals retired_;
};

}  // namespace nvmf::target
