// Reloading the configuration of a running target (SIGHUP, `nvmf target-ctl reload`, systemd's ExecReload):
// the difference between what runs and the file is computed, then applied through the same live-change
// functions `nvmf target-ctl` uses (target_changes.cpp). The whole file is checked first; settings that only
// take effect at start (reactor cores, transport limits, ...) must be unchanged. Additions run before removals,
// and a change that fails (a backend that cannot be opened, an address that cannot be bound) undoes the ones
// already made, in reverse order: a refused reload leaves the running configuration as it was.
#include <algorithm>
#include <cstring>
#include <functional>
#include <optional>

#include "fabric/log.hpp"
#include "target/config_json.hpp"
#include "target/target.hpp"

namespace nvmf::target {

namespace {

struct Step {
  std::string what;                 ///< For the log: "subsystem nqn... added"
  std::string field;                ///< Where in the wanted configuration, for a refusal
  std::function<void()> apply, undo;
};

bool same_address(const fabric::ListenAddress& a, const fabric::ListenAddress& b) {
  return a.trtype == b.trtype && a.traddr == b.traddr && a.trsvcid == b.trsvcid;
}

bool same_namespace(const NamespaceConfig& a, const NamespaceConfig& b) {
  return a.kind == b.kind && a.size == b.size && a.path == b.path && a.block_size == b.block_size &&
         a.nsid == b.nsid && a.hosts == b.hosts && a.nguid == b.nguid && a.uuid == b.uuid &&
         a.ana_grpid == b.ana_grpid && a.prefault == b.prefault && a.huge_pages == b.huge_pages;
}

/// What Identify reports and the controller IDs: changing them means a new subsystem (its controllers close).
bool same_identity(const SubsystemConfig& a, const SubsystemConfig& b) {
  return a.serial == b.serial && a.model == b.model && a.firmware == b.firmware && a.cntlid_min == b.cntlid_min &&
         a.cntlid_max == b.cntlid_max;
}

[[noreturn]] void refuse_start_only(const std::string& field, const std::string& value) {
  throw ConfigError(field, value, "takes effect only when the target starts: restart it to change this");
}

/// Settings a running target cannot change; a file that changes one is refused whole.
void check_start_only(const TargetConfig& running, const TargetConfig& wanted) {
  auto join = [](const std::vector<int>& v) {
    std::string s;
    for (int c : v) {
      if (!s.empty()) s += ',';
      s += std::to_string(c);
    }
    return s;
  };
  if (running.cores != wanted.cores) refuse_start_only("cores", join(wanted.cores));
  const auto& a = running.limits;
  const auto& b = wanted.limits;
  if (a.max_io_size != b.max_io_size) refuse_start_only("max_io_size", std::to_string(b.max_io_size));
  if (a.in_capsule_data_size != b.in_capsule_data_size)
    refuse_start_only("in_capsule_data_size", std::to_string(b.in_capsule_data_size));
  if (a.max_queue_depth != b.max_queue_depth) refuse_start_only("max_queue_depth", std::to_string(b.max_queue_depth));
  if (a.max_r2t_commands != b.max_r2t_commands)
    refuse_start_only("max_r2t_commands", std::to_string(b.max_r2t_commands));
  if (running.max_io_queues != wanted.max_io_queues)
    refuse_start_only("max_io_queues", std::to_string(wanted.max_io_queues));
  if (running.busy_poll != wanted.busy_poll) refuse_start_only("busy_poll", wanted.busy_poll ? "true" : "false");
  if (running.adaptive_poll_us != wanted.adaptive_poll_us)
    refuse_start_only("adaptive_poll_us", std::to_string(wanted.adaptive_poll_us));
  if (running.discovery_port != wanted.discovery_port)
    refuse_start_only("discovery_port", std::to_string(wanted.discovery_port));
  if (running.control_socket != wanted.control_socket) refuse_start_only("control_socket", wanted.control_socket);
}

/// One configured listener: its address and the subsystems it is limited to (absent: every one).
struct ListenerEntry {
  fabric::ListenAddress address;
  std::optional<std::vector<std::string>> only;
};

std::vector<ListenerEntry> listener_entries(const TargetConfig& c) {
  std::vector<ListenerEntry> out;
  for (std::size_t i = 0; i < c.listeners.size(); ++i) {
    ListenerEntry e{c.listeners[i], std::nullopt};
    if (auto it = c.listener_subsystems.find(i); it != c.listener_subsystems.end()) e.only = it->second;
    out.push_back(std::move(e));
  }
  return out;
}

/// A wanted listener on port 0 ("any free port") matches a running one on the same address, whatever it bound.
bool listener_matches(const ListenerEntry& wanted, const ListenerEntry& running) {
  const bool address = wanted.address.trsvcid == "0"
                           ? wanted.address.trtype == running.address.trtype &&
                                 wanted.address.traddr == running.address.traddr
                           : same_address(wanted.address, running.address);
  return address && wanted.only == running.only;
}

/// A refusal of a change function, named in the wanted configuration's terms.
ConfigError renamed(const ConfigError& e, const std::string& field) {
  std::string f = e.field();
  for (const char* prefix : {"subsystem.", "namespace."})
    if (f.rfind(prefix, 0) == 0) {
      std::string joined = field;
      joined += '.';
      joined.append(f, std::strlen(prefix));
      return e.renamed(joined);
    }
  if (f == "address" || f == "host" || f == "nqn" || f == "nsid") return e.renamed(field);
  if (f.empty()) return e.renamed(field);
  std::string joined = field;
  joined += '.';
  joined += f;
  return e.renamed(joined);
}

}  // namespace

std::vector<std::string> Target::reload(const TargetConfig& wanted_config) {
  std::lock_guard serial(reload_mutex_);
  wanted_config.validate();
  TargetConfig wanted = wanted_config;
  for (auto& s : wanted.subsystems) s = resolve_defaults(s);
  const TargetConfig running = current_config();
  check_start_only(running, wanted);

  std::vector<Step> adds, removes;
  auto find_running = [&](const std::string& nqn) -> const SubsystemConfig* {
    for (const auto& s : running.subsystems)
      if (s.nqn == nqn) return &s;
    return nullptr;
  };
  for (std::size_t i = 0; i < wanted.subsystems.size(); ++i) {
    const SubsystemConfig& w = wanted.subsystems[i];
    const std::string field = "subsystems[" + std::to_string(i) + "]";
    const SubsystemConfig* r = find_running(w.nqn);
    if (!r) {
      adds.push_back({"subsystem " + w.nqn + " added", field, [this, w] { add_subsystem(w); },
                      [this, w] { remove_subsystem(w.nqn); }});
      continue;
    }
    if (!same_identity(*r, w)) {
      const SubsystemConfig old = *r;
      adds.push_back({"subsystem " + w.nqn + " replaced (serial, model, firmware or controller IDs changed)", field,
                      [this, w] { remove_subsystem(w.nqn), add_subsystem(w); },
                      [this, old] { remove_subsystem(old.nqn), add_subsystem(old); }});
      continue;
    }
    for (std::size_t n = 0; n < w.namespaces.size(); ++n) {
      const NamespaceConfig& ns = w.namespaces[n];
      const std::string nsfield = field + ".namespaces[" + std::to_string(n) + "]";
      auto it = std::find_if(r->namespaces.begin(), r->namespaces.end(),
                             [&](const NamespaceConfig& x) { return x.nsid == ns.nsid; });
      const std::string label = "subsystem " + w.nqn + ": namespace " + std::to_string(ns.nsid);
      if (it == r->namespaces.end()) {
        adds.push_back({label + " added", nsfield, [this, nqn = w.nqn, ns] { add_namespace(nqn, ns); },
                        [this, nqn = w.nqn, ns] { remove_namespace(nqn, ns.nsid); }});
      } else if (!same_namespace(*it, ns)) {
        adds.push_back({label + " replaced", nsfield,
                        [this, nqn = w.nqn, ns] { remove_namespace(nqn, ns.nsid), add_namespace(nqn, ns); },
                        [this, nqn = w.nqn, old = *it] { remove_namespace(nqn, old.nsid), add_namespace(nqn, old); }});
      }
    }
    for (const auto& ns : r->namespaces)
      if (std::none_of(w.namespaces.begin(), w.namespaces.end(), [&](auto& x) { return x.nsid == ns.nsid; }))
        removes.push_back({"subsystem " + w.nqn + ": namespace " + std::to_string(ns.nsid) + " removed", field,
                           [this, nqn = w.nqn, ns] { remove_namespace(nqn, ns.nsid); },
                           [this, nqn = w.nqn, ns] { add_namespace(nqn, ns); }});
    for (std::size_t h = 0; h < w.allowed_hosts.size(); ++h) {
      const std::string& host = w.allowed_hosts[h];
      if (std::find(r->allowed_hosts.begin(), r->allowed_hosts.end(), host) == r->allowed_hosts.end())
        adds.push_back({"subsystem " + w.nqn + ": host " + host + " allowed",
                        field + ".allowed_hosts[" + std::to_string(h) + "]",
                        [this, nqn = w.nqn, host] { add_host(nqn, host); },
                        [this, nqn = w.nqn, host] { remove_host(nqn, host); }});
    }
    for (const auto& host : r->allowed_hosts)
      if (std::find(w.allowed_hosts.begin(), w.allowed_hosts.end(), host) == w.allowed_hosts.end())
        removes.push_back({"subsystem " + w.nqn + ": host " + host + " revoked", field + ".allowed_hosts",
                           [this, nqn = w.nqn, host] { remove_host(nqn, host); },
                           [this, nqn = w.nqn, host] { add_host(nqn, host); }});
  }

  const auto running_listeners = listener_entries(running);
  const auto wanted_listeners = listener_entries(wanted);
  std::vector<bool> kept(running_listeners.size(), false);
  for (std::size_t i = 0; i < wanted_listeners.size(); ++i) {
    const ListenerEntry& w = wanted_listeners[i];
    bool found = false;
    for (std::size_t j = 0; j < running_listeners.size() && !found; ++j)
      if (!kept[j] && listener_matches(w, running_listeners[j])) kept[j] = found = true;
    if (found) continue;
    const std::string field = "listeners[" + std::to_string(i) + "]";
    if (w.only && w.only->empty())
      throw ConfigError(field, w.address.to_string(), "a discovery-only listener can be added only at start");
    auto bound = std::make_shared<fabric::ListenAddress>(w.address);
    adds.push_back({"listening on " + w.address.to_string(), field,
                    [this, w, bound] { *bound = add_listener(w.address, w.only.value_or(std::vector<std::string>{})); },
                    [this, bound] { remove_listener(*bound); }});
  }
  for (std::size_t j = 0; j < running_listeners.size(); ++j)
    if (!kept[j]) {
      const ListenerEntry r = running_listeners[j];
      removes.insert(removes.begin(),  // before any subsystem it serves goes
                     Step{"stopped listening on " + r.address.to_string(), "listeners",
                          [this, r] { remove_listener(r.address); },
                          [this, r] { add_listener(r.address, r.only.value_or(std::vector<std::string>{})); }});
    }

  for (std::size_t i = 0; i < wanted.referrals.size(); ++i) {
    const ReferralConfig& w = wanted.referrals[i];
    auto it = std::find_if(running.referrals.begin(), running.referrals.end(),
                           [&](const ReferralConfig& r) { return same_address(r.address, w.address); });
    if (it != running.referrals.end() && it->portid == w.portid) continue;
    const std::string field = "referrals[" + std::to_string(i) + "]";
    if (it == running.referrals.end())
      adds.push_back({"referral " + w.address.to_string() + " added", field, [this, w] { add_referral(w); },
                      [this, w] { remove_referral(w.address); }});
    else
      adds.push_back({"referral " + w.address.to_string() + " replaced", field,
                      [this, w] { remove_referral(w.address), add_referral(w); },
                      [this, old = *it] { remove_referral(old.address), add_referral(old); }});
  }
  for (const auto& r : running.referrals)
    if (std::none_of(wanted.referrals.begin(), wanted.referrals.end(),
                     [&](const ReferralConfig& w) { return same_address(r.address, w.address); }))
      removes.push_back({"referral " + r.address.to_string() + " removed", "referrals",
                         [this, r] { remove_referral(r.address); }, [this, r] { add_referral(r); }});

  for (const auto& s : running.subsystems)
    if (std::none_of(wanted.subsystems.begin(), wanted.subsystems.end(), [&](auto& w) { return w.nqn == s.nqn; }))
      removes.push_back({"subsystem " + s.nqn + " removed", "subsystems", [this, s] { remove_subsystem(s.nqn); },
                         [this, s] { add_subsystem(s); }});

  // Host credentials (TLS PSKs, DH-HMAC-CHAP keys) apply to the next handshake or authentication, as the live
  // changes do; what a step says names the host, never a secret.
  auto find_host = [](const TargetConfig& c, const std::string& nqn) -> const HostConfig* {
    for (const auto& h : c.hosts)
      if (h.nqn == nqn) return &h;
    return nullptr;
  };
  for (std::size_t i = 0; i < wanted.hosts.size(); ++i) {
    const HostConfig& w = wanted.hosts[i];
    const HostConfig* r = find_host(running, w.nqn);
    if (r && host_to_json(*r) == host_to_json(w)) continue;
    const std::string field = "hosts[" + std::to_string(i) + "]";
    if (!r)
      adds.push_back({"host " + w.nqn + ": credentials added", field, [this, w] { set_host_config(w); },
                      [this, w] { remove_host_config(w.nqn); }});
    else
      adds.push_back({"host " + w.nqn + ": credentials changed", field, [this, w] { set_host_config(w); },
                      [this, old = *r] { set_host_config(old); }});
  }
  for (const auto& r : running.hosts)
    if (!find_host(wanted, r.nqn))
      removes.push_back({"host " + r.nqn + ": credentials removed", "hosts",
                         [this, r] { remove_host_config(r.nqn); }, [this, r] { set_host_config(r); }});

  std::vector<Step> steps = std::move(adds);
  steps.insert(steps.end(), removes.begin(), removes.end());
  std::vector<std::string> done;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    try {
      steps[i].apply();
    } catch (const std::exception& e) {
      const ConfigError* ce = dynamic_cast<const ConfigError*>(&e);
      ConfigError refusal = ce ? renamed(*ce, steps[i].field) : ConfigError(steps[i].field, "", e.what());
      for (std::size_t k = i; k-- > 0;) {
        try {
          steps[k].undo();
        } catch (const std::exception& u) {
          NVMF_LOG(error, "reload: undoing \"%s\" failed: %s", steps[k].what.c_str(), u.what());
        }
      }
      throw refusal;
    }
    NVMF_LOG(info, "reload: %s", steps[i].what.c_str());
    done.push_back(steps[i].what);
  }
  if (wanted.log_level != running.log_level) {
    log::set_level(wanted.log_level);
    std::lock_guard lock(mutex_);
    config_.log_level = wanted.log_level;
    done.push_back("log level changed");
  }
  return done;
}

std::vector<std::string> Target::reload() {
  try {
    if (!config_source_.read) throw ConfigError("", "", "this target has no configuration source to reload");
    TargetConfig wanted = config_source_.read();  // refusals already named after the file
    std::vector<std::string> changes;
    try {
      changes = reload(wanted);
    } catch (const ConfigError& e) {
      throw config_source_.locate ? config_source_.locate(e) : e;
    }
    NVMF_LOG(info, "configuration reloaded: %zu change%s", changes.size(), changes.size() == 1 ? "" : "s");
    return changes;
  } catch (const ConfigError& e) {
    // The journal says why (systemctl reload only reports a failure).
    NVMF_LOG(error, "reload refused, the running configuration stays: %s", e.what());
    throw;
  }
}

}  // namespace nvmf::target
