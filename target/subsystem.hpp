// An NVM subsystem (or the discovery subsystem): its identity, which hosts may connect, its namespaces and the
// controllers currently associated with it. Everything here is control path (Connect, Identify, log pages) and
// guarded by one mutex; the data path reads only the immutable namespace table and the per-queue counters.
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
  /// `allowed_hosts` empty: any host may connect.
  Subsystem(SubsystemKind kind, SubsystemIdentity identity, std::vector<std::string> allowed_hosts,
            std::shared_ptr<const NamespaceTable> namespaces);

  SubsystemKind kind() const { return kind_; }
  const SubsystemIdentity& identity() const { return identity_; }
  const std::string& nqn() const { return identity_.nqn; }
  bool host_allowed(const std::string& host_nqn) const;
  bool allows_any_host() const { return allowed_hosts_.empty(); }
  std::shared_ptr<const NamespaceTable> namespaces() const;

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
  const std::vector<std::string> allowed_hosts_;
  const std::shared_ptr<const NamespaceTable> namespaces_;

  mutable std::mutex mutex_;
  std::map<std::uint16_t, std::weak_ptr<Controller>> controllers_;
  std::uint16_t next_cntlid_ = 1;
  std::set<const IoCounters*> live_counters_;
  IoTotals retired_;
};

}  // namespace nvmf::target
