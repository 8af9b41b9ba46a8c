#include "target/subsystem.hpp"

#include <algorithm>

#include "target/controller.hpp"

namespace nvmf::target {

Subsystem::Subsystem(SubsystemKind kind, SubsystemIdentity identity, std::vector<std::string> allowed_hosts,
                     std::shared_ptr<const NamespaceTable> namespaces, std::uint16_t cntlid_min,
                     std::uint16_t cntlid_max)
    : kind_(kind),
      identity_(std::move(identity)),
      cntlid_min_(cntlid_min),
      cntlid_max_(cntlid_max),
      allowed_hosts_(std::move(allowed_hosts)),
      namespaces_(namespaces ? std::move(namespaces) : std::make_shared<const NamespaceTable>()),
      next_cntlid_(cntlid_min) {}

bool Subsystem::host_allowed(const std::string& host_nqn) const {
  std::lock_guard lock(mutex_);
  // An empty Host NQN (SPDK's host tools) is allowed where any host is, never by a list (nvmet, SPDK).
  if (host_nqn.empty()) return allowed_hosts_.empty();
  return allowed_hosts_.empty() ||
         std::find(allowed_hosts_.begin(), allowed_hosts_.end(), host_nqn) != allowed_hosts_.end();
}

bool Subsystem::allows_any_host() const {
  std::lock_guard lock(mutex_);
  return allowed_hosts_.empty();
}

std::vector<std::string> Subsystem::allowed_hosts() const {
  std::lock_guard lock(mutex_);
  return allowed_hosts_;
}

bool Subsystem::add_host(const std::string& host_nqn) {
  std::lock_guard lock(mutex_);
  if (std::find(allowed_hosts_.begin(), allowed_hosts_.end(), host_nqn) != allowed_hosts_.end()) return false;
  allowed_hosts_.push_back(host_nqn);
  return true;
}

bool Subsystem::remove_host(const std::string& host_nqn) {
  std::lock_guard lock(mutex_);
  auto it = std::find(allowed_hosts_.begin(), allowed_hosts_.end(), host_nqn);
  if (it == allowed_hosts_.end()) return false;
  allowed_hosts_.erase(it);
  return true;
}

std::shared_ptr<const NamespaceTable> Subsystem::namespaces() const {
  std::lock_guard lock(mutex_);
  return namespaces_;
}

void Subsystem::set_namespaces(std::shared_ptr<const NamespaceTable> table) {
  std::lock_guard lock(mutex_);
  namespaces_ = std::move(table);
}

std::uint16_t Subsystem::reserve_cntlid() {
  // Dynamic controller IDs from [cntlid_min, cntlid_max]; FFF0h-FFFFh are reserved (NVMe base spec, CNTLID).
  std::lock_guard lock(mutex_);
  const unsigned span = cntlid_max_ - cntlid_min_ + 1u;
  for (unsigned tries = 0; tries < span; ++tries) {
    std::uint16_t id = next_cntlid_;
    next_cntlid_ = next_cntlid_ >= cntlid_max_ ? cntlid_min_ : static_cast<std::uint16_t>(next_cntlid_ + 1);
    if (!controllers_.count(id)) {
      controllers_.emplace(id, std::weak_ptr<Controller>());
      return id;
    }
  }
  return 0;
}

void Subsystem::attach_controller(std::uint16_t cntlid, const std::shared_ptr<Controller>& controller) {
  std::lock_guard lock(mutex_);
  controllers_[cntlid] = controller;
}

void Subsystem::release_cntlid(std::uint16_t cntlid) {
  std::lock_guard lock(mutex_);
  controllers_.erase(cntlid);
  retired_by_controller_.erase(cntlid);
}

std::shared_ptr<Controller> Subsystem::find_controller(std::uint16_t cntlid, const std::string& host_nqn) const {
  std::shared_ptr<Controller> c;
  {
    std::lock_guard lock(mutex_);
    auto it = controllers_.find(cntlid);
    if (it == controllers_.end()) return nullptr;
    c = it->second.lock();
  }
  // nvmet matches the host NQN too: a host cannot add queues to another host's controller.
  if (!c || c->host_nqn() != host_nqn) return nullptr;
  return c;
}

std::vector<std::shared_ptr<Controller>> Subsystem::controllers() const {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<Controller>> out;
  for (auto& [id, weak] : controllers_)
    if (auto c = weak.lock()) out.push_back(std::move(c));
  return out;
}

void Subsystem::register_queue_stats(std::shared_ptr<const QueueStats> stats) {
  std::lock_guard lock(mutex_);
  live_queue_stats_.insert(std::move(stats));
}

void Subsystem::retire_queue_stats(const std::shared_ptr<const QueueStats>& stats) {
  std::lock_guard lock(mutex_);
  if (!live_queue_stats_.erase(stats)) return;
  const bool controller_alive = controllers_.count(stats->cntlid()) != 0;
  for (auto& [nsid, snap] : stats->snapshot()) {
    snap.in_flight = 0;  // a closed queue holds nothing
    retired_total_ += snap;
    if (nsid != 0) retired_by_ns_[nsid] += snap;
    if (controller_alive) retired_by_controller_[stats->cntlid()] += snap;
  }
}

IoTotals Subsystem::io_totals() const { return smart_totals(stats_report().total); }

Subsystem::StatsReport Subsystem::stats_report() const {
  std::lock_guard lock(mutex_);
  StatsReport r;
  r.total = retired_total_;
  r.namespaces = retired_by_ns_;
  for (const auto& ns : namespaces_->all()) r.namespaces[ns->nsid];  // listed from the start, at zero
  for (const auto& [cntlid, controller] : controllers_)
    if (!controller.expired()) r.controllers[cntlid];  // listed even before its first I/O queue
  for (const auto& [cntlid, snap] : retired_by_controller_)
    if (controllers_.count(cntlid)) r.controllers[cntlid] = snap;
  for (const auto& q : live_queue_stats_) {
    StatsReport::Queue out{q->cntlid(), q->qid(), {}};
    for (const auto& [nsid, snap] : q->snapshot()) {
      out.stats += snap;
      if (nsid != 0) r.namespaces[nsid] += snap;
    }
    out.stats.in_flight = q->in_flight();
    r.total += out.stats;
    r.controllers[q->cntlid()] += out.stats;
    r.queues.push_back(std::move(out));
  }
  std::sort(r.queues.begin(), r.queues.end(),
            [](const auto& a, const auto& b) { return a.cntlid != b.cntlid ? a.cntlid < b.cntlid : a.qid < b.qid; });
  return r;
}

}  // namespace nvmf::target
