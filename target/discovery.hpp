// The discovery log page (LID 70h) a discovery controller returns: a 1024-byte header (GENCTR, NUMREC, RECFMT 0)
// then one 1024-byte entry (libnvme's struct nvmf_disc_log_entry) per NVM subsystem the host may see on each
// port that serves it, one "current discovery subsystem" entry (SUBTYPE 3) per port, then one entry per
// referral (SUBTYPE 1, another discovery service).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "target/registry.hpp"

namespace nvmf::target {

std::vector<std::uint8_t> build_discovery_log(const DiscoverySnapshot& snapshot, const std::string& host_nqn);

}  // namespace nvmf::target
