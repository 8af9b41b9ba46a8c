#include "target/subsystem.hpp"

#include <algorithm>

#include "target/controller.hpp"

namespace nvmf::target {

namespace {
// Dynamic controller IDs: FFF0h-FFFFh are reserved (NVMe base spec, Identify Controller CNTLID).
constexpr std::uint16_t kMaxCntlid = 0xFFEF;
}  // namespace

Subsystem::Subsystem(SubsystemKind kind, SubsystemIdentity identity, std::vector<std::string> allowed_hosts,
                     std::shared_ptr<const NamespaceTable> namespaces)
    : kind_(kind),
      identity_(std::move(identity)),
      allowed_hosts_(std::move(allowed_hosts)),
      namespaces_(namespaces ? std::move(namespaces) : std::make_shared<const NamespaceTable>()) {}

bool Subsystem::host_allowed(const std::string& host_nqn) const {
  return allowed_hosts_.empty() ||
         std::find(allowed_hosts_.begin(), allowed_hosts_.end(), host_nqn) != allowed_hosts_.end();
}

std::shared_ptr<const NamespaceTable> Subsystem::namespaces() const { return namespaces_; }

std::uint16_t Subsystem::reserve_cntlid() {
  std::lock_guard lock(mutex_);
  for (unsigned tries = 0; tries < kMaxCntlid; ++tries) {
    std::uint16_t id = next_cntlid_;
    next_cntlid_ = next_cntlid_ == kMaxCntlid ? 1 : static_cast<std::uint16_t>(next_cntlid_ + 1);
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

void Subsystem::register_counters(const IoCounters* counters) {
  std::lock_guard lock(mutex_);
  live_counters_.insert(counters);
}

void Subsystem::retire_counters(const IoCounters* counters) {
  std::lock_guard lock(mutex_);
  if (live_counters_.erase(counters)) retired_ += counters->snapshot();
}

IoTotals Subsystem::io_totals() const {
  std::lock_guard lock(mutex_);
  IoTotals total = retired_;
  for (const IoCounters* c : live_counters_) total += c->snapshot();
  return total;
}

}  // namespace nvmf::target
