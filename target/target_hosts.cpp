// Live changes of a host's DH-HMAC-CHAP credentials (nvmet: writing hosts/<nqn>/dhchap_*). The registry answers
// the next Connect and Negotiate with the new values; queues already admitted keep their admission.
#include <algorithm>

#include "target/registry.hpp"
#include "target/target.hpp"

namespace nvmf::target {

void Target::set_host_dhchap(const HostConfig& update) {
  HostConfig merged = registry_->host(update.nqn).value_or(HostConfig{});
  merged.nqn = update.nqn;
  merged.dhchap_key = update.dhchap_key;
  merged.dhchap_ctrl_key = update.dhchap_ctrl_key;
  merged.dhchap_hashes = update.dhchap_hashes;
  merged.dhchap_dhgroups = update.dhchap_dhgroups;
  set_host_config(merged);
}

void Target::set_host_config(const HostConfig& host) {
  std::lock_guard lock(mutex_);
  validate_host(host, "host");  // refuses before anything changes; names the field, never the secret
  registry_->set_host(host);
  // The running configuration follows, so save-config and the next reload see what is in force.
  for (auto& h : config_.hosts)
    if (h.nqn == host.nqn) {
      h = host;
      return;
    }
  config_.hosts.push_back(host);
}

bool Target::remove_host_config(const std::string& host_nqn) {
  std::lock_guard lock(mutex_);
  const bool had = registry_->remove_host(host_nqn);
  config_.hosts.erase(std::remove_if(config_.hosts.begin(), config_.hosts.end(),
                                     [&](const HostConfig& h) { return h.nqn == host_nqn; }),
                      config_.hosts.end());
  return had;
}

}  // namespace nvmf::target
