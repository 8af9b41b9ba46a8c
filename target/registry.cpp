#include "target/registry.hpp"

#include <algorithm>
#include <stdexcept>

#include "nvme/fabrics.hpp"
#include "target/config.hpp"
#include "target/controller.hpp"

namespace nvmf::target {

bool Port::serves(const std::string& nqn) const {
  if (!serves_nvm) return false;
  return only.empty() || std::find(only.begin(), only.end(), nqn) != only.end();
}

Registry::Registry(ControllerSettings settings)
    : settings_(settings),
      start_time_(std::chrono::steady_clock::now()),
      discovery_(std::make_shared<Subsystem>(
          SubsystemKind::discovery,
          SubsystemIdentity{nvme::kDiscoveryNqn, "discovery", "nvmf toolkit discovery", kDefaultFirmware},
          std::vector<std::string>{}, nullptr)) {}

void Registry::add_subsystem(std::shared_ptr<Subsystem> subsystem) {
  std::lock_guard lock(mutex_);
  if (subsystem->nqn() == discovery_->nqn())
    throw std::invalid_argument("subsystem NQN '" + subsystem->nqn() + "' is the well-known discovery NQN");
  for (auto& s : subsystems_)
    if (s->nqn() == subsystem->nqn())
      throw std::invalid_argument("subsystem NQN '" + subsystem->nqn() + "' is configured twice");
  subsystems_.push_back(std::move(subsystem));
  changed_locked();
}

std::shared_ptr<Subsystem> Registry::remove_subsystem(const std::string& nqn) {
  std::lock_guard lock(mutex_);
  for (auto it = subsystems_.begin(); it != subsystems_.end(); ++it) {
    if ((*it)->nqn() != nqn) continue;
    auto removed = *it;
    subsystems_.erase(it);
    changed_locked();
    return removed;
  }
  return nullptr;
}

void Registry::add_port(Port port) {
  std::lock_guard lock(mutex_);
  ports_.push_back(std::move(port));
  changed_locked();
}

bool Registry::remove_port(std::uint16_t portid) {
  std::lock_guard lock(mutex_);
  auto it = std::find_if(ports_.begin(), ports_.end(), [&](const Port& p) { return p.portid == portid; });
  if (it == ports_.end()) return false;
  ports_.erase(it);
  ana_.remove_port(portid);  // a later port with this ID starts all optimized
  changed_locked();
  return true;
}

std::uint16_t Registry::next_portid() const {
  std::lock_guard lock(mutex_);
  std::uint16_t max = 0;
  for (const auto& p : ports_) max = std::max(max, p.portid);
  return static_cast<std::uint16_t>(max + 1);
}

std::optional<Port> Registry::port(std::uint16_t portid) const {
  std::lock_guard lock(mutex_);
  for (const auto& p : ports_)
    if (p.portid == portid) return p;
  return std::nullopt;
}

void Registry::add_referral(Referral referral) {
  std::lock_guard lock(mutex_);
  referrals_.push_back(std::move(referral));
  changed_locked();
}

bool Registry::remove_referral(const fabric::ListenAddress& address) {
  std::lock_guard lock(mutex_);
  auto it = std::find_if(referrals_.begin(), referrals_.end(), [&](const Referral& r) {
    return r.address.trtype == address.trtype && r.address.traddr == address.traddr &&
           r.address.trsvcid == address.trsvcid;
  });
  if (it == referrals_.end()) return false;
  referrals_.erase(it);
  changed_locked();
  return true;
}

std::vector<Referral> Registry::referrals() const {
  std::lock_guard lock(mutex_);
  return referrals_;
}

void Registry::discovery_changed(const std::string& host_nqn) {
  std::lock_guard lock(mutex_);
  changed_locked(host_nqn);
}

std::shared_ptr<Subsystem> Registry::find(const std::string& nqn) const {
  if (nqn == discovery_->nqn()) return discovery_;
  std::lock_guard lock(mutex_);
  for (auto& s : subsystems_)
    if (s->nqn() == nqn) return s;
  return nullptr;
}

std::vector<std::shared_ptr<Subsystem>> Registry::subsystems() const {
  std::lock_guard lock(mutex_);
  return subsystems_;
}

std::vector<Port> Registry::ports() const {
  std::lock_guard lock(mutex_);
  return ports_;
}

DiscoverySnapshot Registry::discovery_snapshot() const {
  std::lock_guard lock(mutex_);
  return DiscoverySnapshot{generation_, ports_, subsystems_, referrals_};
}

std::uint64_t Registry::generation() const {
  std::lock_guard lock(mutex_);
  return generation_;
}

void Registry::changed_locked(const std::string& host_nqn) {
  ++generation_;  // wraps to 0 after FFFFFFFF_FFFFFFFFh, as the spec asks
  // As nvmet_subsys_disc_changed: a change that concerns one host notifies only that host's controllers.
  for (auto& c : discovery_->controllers())
    if (host_nqn.empty() || c->host_nqn() == host_nqn) c->notify_discovery_change();
}

std::optional<HostConfig> Registry::host(const std::string& nqn) const {
  std::lock_guard lock(mutex_);
  auto it = hosts_.find(nqn);
  if (it == hosts_.end()) return std::nullopt;
  return it->second;
}

void Registry::set_host(HostConfig host) {
  std::lock_guard lock(mutex_);
  std::string nqn = host.nqn;
  hosts_[nqn] = std::move(host);
}

bool Registry::remove_host(const std::string& nqn) {
  std::lock_guard lock(mutex_);
  return hosts_.erase(nqn) > 0;
}

std::vector<HostConfig> Registry::hosts() const {
  std::lock_guard lock(mutex_);
  std::vector<HostConfig> out;
  for (const auto& [nqn, host] : hosts_) out.push_back(host);
  return out;
}

}  // namespace nvmf::target
