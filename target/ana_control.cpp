// `target-ctl set-ana-state`: a port's ANA group state changes at run time (nvmet: writing
// ports/<p>/ana_groups/<g>/ana_state, which sends the ANA change event to the port's controllers).
#include <string>

#include "fabric/log.hpp"
#include "target/controller.hpp"
#include "target/target.hpp"

namespace nvmf::target {

void Target::set_ana_state(std::uint16_t portid, std::uint32_t grpid, AnaState state) {
  const auto port = registry_->port(portid);
  if (!port) throw ConfigError("port", std::to_string(portid), "no such port (`target-ctl list` shows the ports)");
  if (!port->serves_nvm)
    throw ConfigError("port", std::to_string(portid), "a discovery-only port serves no namespace");
  if (grpid < 1 || grpid > kMaxAnaGroups)
    throw ConfigError("group", std::to_string(grpid), "ANA group IDs go from 1 to " + std::to_string(kMaxAnaGroups));
  const std::uint32_t mdts = registry_->settings().limits.max_io_size;
  if (!ana_fits(mdts))
    throw ConfigError("port", std::to_string(portid),
                      "ANA is not reported: max_io_size " + std::to_string(mdts) + " cannot hold the ANA log (" +
                          std::to_string(ana_log_max_size()) + " bytes)");
  if (!registry_->ana().set(portid, grpid, state)) return;
  NVMF_LOG(info, "port %u: ANA group %u is now %s", portid, grpid, ana_state_name(state));
  for (const auto& subsystem : registry_->subsystems())
    for (const auto& controller : subsystem->controllers())
      if (controller->host().portid == portid) controller->notify_ana_change();
}

}  // namespace nvmf::target
