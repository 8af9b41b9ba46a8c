#include "target/registry.hpp"

#include <stdexcept>

#include "nvme/fabrics.hpp"
#include "target/config.hpp"
#include "target/controller.hpp"

namespace nvmf::target {

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

void Registry::add_port(Port port) {
  std::lock_guard lock(mutex_);
  ports_.push_back(std::move(port));
  changed_locked();
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
  return DiscoverySnapshot{generation_, ports_, subsystems_};
}

std::uint64_t Registry::generation() const {
  std::lock_guard lock(mutex_);
  return generation_;
}

void Registry::changed_locked() {
  ++generation_;  // wraps to 0 after FFFFFFFF_FFFFFFFFh, as the spec asks
  for (auto& c : discovery_->controllers()) c->notify_discovery_change();
}

}  // namespace nvmf::target
