// The discovery log in nvme-cli's shapes: `nvme discover` text and its JSON ("genctr", "records": [...]).
#pragma once
#include <nlohmann/json.hpp>

#include "initiator/discovery.hpp"

namespace nvmf::cli {

nlohmann::json discovery_log_json(const initiator::DiscoveryLog& log);
void print_discovery_log(const initiator::DiscoveryLog& log);

}  // namespace nvmf::cli
