// Live changes of a host's DH-HMAC-CHAP credentials (nvmet: writing hosts/<nqn>/dhchap_*). The registry answers
// the next Connect and Negotiate with the new values; queues already admitted keep their admission.
#include "target/registry.hpp"
#include "target/target.hpp"

namespace nvmf::target {

void Target::set_host_dhchap(const HostConfig& update) {
  std::lock_guard lock(mutex_);
  HostConfig merged = registry_->host(update.nqn).value_or(HostConfig{});
  merged.nqn = update.nqn;
  merged.dhchap_key = update.dhchap_key;
  merged.dhchap_ctrl_key = update.dhchap_ctrl_key;
  merged.dhchap_hashes = update.dhchap_hashes;
  merged.dhchap_dhgroups = update.dhchap_dhgroups;
  validate_host(merged, "host");  // refuses before anything changes
  registry_->set_host(merged);
  for (auto& h : config_.hosts) {
    if (h.nqn != merged.nqn) continue;
    h.dhchap_key = merged.dhchap_key;
    h.dhchap_ctrl_key = merged.dhchap_ctrl_key;
    h.dhchap_hashes = merged.dhchap_hashes;
    h.dhchap_dhgroups = merged.dhchap_dhgroups;
    return;
  }
  config_.hosts.push_back(merged);
}

}  // namespace nvmf::target
