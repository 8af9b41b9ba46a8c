// The Prometheus text exposition format (version 0.0.4) of the target's I/O statistics, for `GET /metrics`.
// Four levels, each its own metric family so that a sum never counts twice: subsystem, namespace (kept across
// queue closes and namespace removal), controller (live controllers) and I/O queue (live queues). Names and
// labels are listed in docs/monitoring.md.
#pragma once
#include <string>

namespace nvmf::target {

class Registry;

std::string metrics_exposition(const Registry& registry);

}  // namespace nvmf::target
