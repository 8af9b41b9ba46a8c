// Live configuration changes of a running target: subsystems, namespaces, allowed hosts, listeners and
// referrals. Each change is checked whole before anything moves, then applied to the registry (new Connects
// see it at once), to the running controllers (namespace tables, notices, closes) and to config_ (save-config).
#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

#include "fabric/log.hpp"
#include "target/controller.hpp"
#include "target/target.hpp"

namespace nvmf::target {

namespace {
bool same_address(const fabric::ListenAddress& a, const fabric::ListenAddress& b) {
  return a.trtype == b.trtype && a.traddr == b.traddr && a.trsvcid == b.trsvcid;
}
}  // namespace

std::shared_ptr<Subsystem> Target::subsystem_or_refuse(const std::string& nqn, const std::string& field) const {
  auto s = registry_->find(nqn);
  if (!s || s->kind() != SubsystemKind::nvm) throw ConfigError(field, nqn, "no such subsystem");
  return s;
}

SubsystemConfig* Target::subsystem_config_locked(const std::string& nqn) {
  for (auto& s : config_.subsystems)
    if (s.nqn == nqn) return &s;
  return nullptr;
}

template <typename Filter>
void Target::close_controllers(Subsystem& subsystem, Filter filter) {
  std::vector<std::shared_ptr<Controller>> closing;
  for (auto& c : subsystem.controllers())
    if (filter(*c)) closing.push_back(c);
  for (auto& c : closing) c->request_close();
  // Bounded wait so the caller's reply means "gone" (teardown runs on the admin reactors).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  auto alive = [&] { return std::any_of(closing.begin(), closing.end(), [](auto& c) { return !c->torn_down(); }); };
  while (started_ && !stopped_ && alive() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

void Target::add_subsystem(const SubsystemConfig& config) {
  std::lock_guard lock(mutex_);
  SubsystemConfig resolved = resolve_defaults(config);
  validate_subsystem(resolved, "subsystem");
  if (registry_->find(resolved.nqn)) throw ConfigError("subsystem.nqn", resolved.nqn, "already exists");
  try {
    registry_->add_subsystem(make_subsystem(resolved));
  } catch (const ConfigError& e) {
    throw e.renamed("subsystem." + e.field());
  }
  config_.subsystems.push_back(std::move(resolved));
  NVMF_LOG(info, "subsystem %s added", config.nqn.c_str());
}

void Target::remove_subsystem(const std::string& nqn) {
  std::lock_guard lock(mutex_);
  auto subsystem = subsystem_or_refuse(nqn, "nqn");
  registry_->remove_subsystem(nqn);  // no new Connect finds it; GENCTR moves
  close_controllers(*subsystem, [](const Controller&) { return true; });
  config_.subsystems.erase(std::remove_if(config_.subsystems.begin(), config_.subsystems.end(),
                                          [&](const SubsystemConfig& s) { return s.nqn == nqn; }),
                           config_.subsystems.end());
  NVMF_LOG(info, "subsystem %s removed", nqn.c_str());
}

std::uint32_t Target::add_namespace(const std::string& nqn, NamespaceConfig config) {
  std::lock_guard lock(mutex_);
  auto subsystem = subsystem_or_refuse(nqn, "nqn");
  auto table = subsystem->namespaces();
  if (config.nsid == 0) {
    std::uint32_t free = 1;
    while (table->find(free)) ++free;
    config.nsid = free;
  }
  validate_namespace(config, "namespace");
  if (table->find(config.nsid)) throw ConfigError("namespace.nsid", std::to_string(config.nsid), "already in use");
  std::shared_ptr<const Namespace> ns;
  try {
    ns = make_namespace(nqn, config);
  } catch (const ConfigError& e) {
    throw e.renamed("namespace." + e.field());
  }
  subsystem->set_namespaces(table->with(std::move(ns)));
  for (auto& c : subsystem->controllers()) c->refresh_namespaces();
  if (SubsystemConfig* sc = subsystem_config_locked(nqn)) sc->namespaces.push_back(config);
  return config.nsid;
}

void Target::remove_namespace(const std::string& nqn, std::uint32_t nsid) {
  std::lock_guard lock(mutex_);
  auto subsystem = subsystem_or_refuse(nqn, "nqn");
  auto table = subsystem->namespaces();
  if (!table->find(nsid)) throw ConfigError("nsid", std::to_string(nsid), "no such namespace in " + nqn);
  subsystem->set_namespaces(table->without(nsid));
  for (auto& c : subsystem->controllers()) c->refresh_namespaces();
  if (SubsystemConfig* sc = subsystem_config_locked(nqn))
    sc->namespaces.erase(std::remove_if(sc->namespaces.begin(), sc->namespaces.end(),
                                        [&](const NamespaceConfig& n) { return n.nsid == nsid; }),
                         sc->namespaces.end());
  NVMF_LOG(info, "subsystem %s: namespace %u removed", nqn.c_str(), nsid);
}

bool Target::revalidate_namespace(const std::string& nqn, std::uint32_t nsid) {
  std::lock_guard lock(mutex_);
  auto subsystem = subsystem_or_refuse(nqn, "nqn");
  auto table = subsystem->namespaces();
  const Namespace* ns = table->find(nsid);
  if (!ns) throw ConfigError("nsid", std::to_string(nsid), "no such namespace in " + nqn);
  const int rc = ns->backend->refresh_size();
  if (rc < 0) throw ConfigError("nsid", std::to_string(nsid), std::string("cannot read the size: ") + std::strerror(-rc));
  const std::uint64_t blocks = ns->backend->size_bytes() >> ns->lba_shift;
  if (blocks == ns->blocks) return false;
  // A new Namespace object: controllers see a replaced namespace and report it changed (log page 04h).
  auto resized = std::make_shared<Namespace>(*ns);
  resized->blocks = blocks;
  subsystem->set_namespaces(table->without(nsid)->with(std::move(resized)));
  for (auto& c : subsystem->controllers()) c->refresh_namespaces();
  NVMF_LOG(info, "subsystem %s: namespace %u resized to %llu blocks", nqn.c_str(), nsid,
           static_cast<unsigned long long>(blocks));
  return true;
}

void Target::add_host(const std::string& nqn, const std::string& host_nqn) {
  std::lock_guard lock(mutex_);
  check_nqn("host", host_nqn);
  auto subsystem = subsystem_or_refuse(nqn, "nqn");
  if (!subsystem->add_host(host_nqn)) throw ConfigError("host", host_nqn, "already allowed on " + nqn);
  // The list was empty (any host) and is now one host: every other host lost access. Either way the
  // discovery log of the hosts concerned changed.
  const bool was_open = subsystem->allowed_hosts().size() == 1;
  if (was_open) close_controllers(*subsystem, [&](const Controller& c) { return c.host_nqn() != host_nqn; });
  registry_->discovery_changed(was_open ? std::string() : host_nqn);
  if (SubsystemConfig* sc = subsystem_config_locked(nqn)) sc->allowed_hosts.push_back(host_nqn);
}

void Target::remove_host(const std::string& nqn, const std::string& host_nqn) {
  std::lock_guard lock(mutex_);
  auto subsystem = subsystem_or_refuse(nqn, "nqn");
  if (!subsystem->remove_host(host_nqn)) throw ConfigError("host", host_nqn, "not in the allowed hosts of " + nqn);
  const bool now_open = subsystem->allows_any_host();
  if (!now_open) close_controllers(*subsystem, [&](const Controller& c) { return c.host_nqn() == host_nqn; });
  registry_->discovery_changed(now_open ? std::string() : host_nqn);
  if (SubsystemConfig* sc = subsystem_config_locked(nqn))
    sc->allowed_hosts.erase(std::remove(sc->allowed_hosts.begin(), sc->allowed_hosts.end(), host_nqn),
                            sc->allowed_hosts.end());
}

fabric::ListenAddress Target::add_listener(const fabric::ListenAddress& address, const std::vector<std::string>& only) {
  std::lock_guard lock(mutex_);
  validate_address(address, "address");
  for (std::size_t i = 0; i < only.size(); ++i)
    if (!subsystem_config_locked(only[i]))
      throw ConfigError("subsystems[" + std::to_string(i) + "]", only[i], "no such subsystem");
  for (const auto& l : listeners_)
    if (same_address(l.port.address, address)) throw ConfigError("address", address.to_string(), "already listening");
  if (!started_ || stopped_) {
    if (!only.empty()) config_.listener_subsystems[config_.listeners.size()] = only;
    config_.listeners.push_back(address);
    return address;
  }
  try {
    bind_locked(Port{registry_->next_portid(), address, true, only});
  } catch (const std::exception& e) {
    throw ConfigError("address", address.to_string(), e.what());
  }
  return listeners_.back().port.address;
}

void Target::remove_listener(const fabric::ListenAddress& address) {
  std::lock_guard lock(mutex_);
  auto it = std::find_if(listeners_.begin(), listeners_.end(),
                         [&](const Listening& l) { return same_address(l.port.address, address); });
  if (it == listeners_.end()) throw ConfigError("address", address.to_string(), "not listening there");
  const std::uint16_t portid = it->port.portid;
  it->listener->stop();
  registry_->remove_port(portid);
  // As nvmet when a port goes: the controllers that came through it go too.
  for (auto& s : registry_->subsystems())
    close_controllers(*s, [&](const Controller& c) { return c.host().portid == portid; });
  close_controllers(*registry_->discovery(), [&](const Controller& c) { return c.host().portid == portid; });
  // The factory stays alive for connections the transport may still be finishing.
  retired_factories_.push_back(std::move(it->factory));
  listeners_.erase(it);
  NVMF_LOG(info, "stopped listening on %s (port %u)", address.to_string().c_str(), portid);
}

void Target::add_referral(const ReferralConfig& referral) {
  std::lock_guard lock(mutex_);
  validate_address(referral.address, "address");
  for (const auto& r : registry_->referrals())
    if (same_address(r.address, referral.address))
      throw ConfigError("address", referral.address.to_string(), "already referred to");
  registry_->add_referral(Referral{referral.portid, referral.address});
  config_.referrals.push_back(referral);
}

void Target::remove_referral(const fabric::ListenAddress& address) {
  std::lock_guard lock(mutex_);
  if (!registry_->remove_referral(address)) throw ConfigError("address", address.to_string(), "no such referral");
  config_.referrals.erase(std::remove_if(config_.referrals.begin(), config_.referrals.end(),
                                         [&](const ReferralConfig& r) { return same_address(r.address, address); }),
                          config_.referrals.end());
}

}  // namespace nvmf::target
