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

#include "target/queue_stats.hpp"
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

  /// I/O statistics (SMART log, `target-ctl stats`, metrics): live queues register theirs; a closing queue folds
  /// its totals into the subsystem's, its namespaces' and (while it lives) its controller's.
  void register_queue_stats(std::shared_ptr<const QueueStats> stats);
  void retire_queue_stats(const std::shared_ptr<const QueueStats>& stats);
  IoTotals io_totals() const;
  struct StatsReport {
    struct Queue {
      std::uint16_t cntlid = 0;
      std::uint16_t qid = 0;
      IoSnapshot stats;
    };
    IoSnapshot total;
    std::map<std::uint32_t, IoSnapshot> namespaces;  ///< by NSID, including removed namespaces' history
    std::map<std::uint16_t, IoSnapshot> controllers;  ///< live controllers, by CNTLID
    std::vector<Queue> queues;                        ///< live I/O queues
  };
  StatsReport stats_report() const;

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
  std::set<std::shared_ptr<const QueueStats>> live_queue_stats_;
  IoSnapshot retired_total_;
  std::map<std::uint32_t, IoSnapshot> retired_by_ns_;
  std::map<std::uint16_t, IoSnapshot> retired_by_controller_;  ///< dropped with the controller's CNTLID
};

}  // namespace nvmf::target
