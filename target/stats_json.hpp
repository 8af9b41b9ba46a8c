// The target's I/O statistics as JSON: the control socket's `stats` reply, which `nvmf target-ctl stats` prints
// and `nvmf target-ctl top` turns into rates. Latency travels as sparse histogram buckets (index: count) so a
// client can compute percentiles over any interval from two replies; the percentiles of the whole history come
// along for readers that only want those. docs/monitoring.md describes the fields.
#pragma once
#include <nlohmann/json.hpp>

#include "target/io_stats.hpp"

namespace nvmf::target {

class Registry;

nlohmann::json io_snapshot_to_json(const IoSnapshot& s);
/// Reads what io_snapshot_to_json wrote; throws std::runtime_error on a malformed document.
IoSnapshot io_snapshot_from_json(const nlohmann::json& j);

/// {"uptime_ms": ..., "subsystems": [{"nqn", "total", "namespaces": [...], "controllers": [...], "queues": [...]}]}
nlohmann::json stats_to_json(const Registry& registry);

/// "Invalid Namespace or Format" style text for an (SCT << 8 | SC) code from IoSnapshot::errors.
std::string status_code_name(std::uint16_t code);

}  // namespace nvmf::target
