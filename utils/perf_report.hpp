// Printing a perf run (nvmf perf, nvmf demo): a live line per second, then per phase IOPS, MiB/s and latency
// (mean, min, max, p50/p90/p99/p99.9 in microseconds), as text or JSON.
#pragma once
#include <nlohmann/json.hpp>

#include "initiator/namespace.hpp"
#include "initiator/workload/perf_config.hpp"

namespace nvmf::cli {

void print_perf_progress(const initiator::PerfProgress& p);
nlohmann::ordered_json perf_result_json(const initiator::PerfConfig& config, const initiator::PerfResult& result);
void print_perf_result(const initiator::PerfConfig& config, const initiator::PerfResult& result);

}  // namespace nvmf::cli
