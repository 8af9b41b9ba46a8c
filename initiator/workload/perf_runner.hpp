// Runs a perf job against one namespace of a connected controller: one worker thread per queue, each with its
// own reactor and I/O queue; the calling thread keeps the admin queue alive (keep-alive) and samples progress.
#pragma once
#include <functional>

#include "initiator/controller.hpp"
#include "initiator/error.hpp"
#include "initiator/namespace.hpp"
#include "initiator/workload/perf_config.hpp"

namespace nvmf::initiator {

/// Check the configuration against the namespace and controller; the reason in words, empty when fine.
std::string validate_perf_config(const PerfConfig& config, const Namespace& ns, const Controller& ctrl);

/// Run the job. Configuration or queue-creation problems come back in *error (result empty); I/O errors and
/// verify mismatches are in the result (PerfResult::ok()). `progress` (may be empty) runs once a second on
/// the calling thread.
PerfResult run_perf(Controller& ctrl, const Namespace& ns, const PerfConfig& config,
                    const std::function<void(const PerfProgress&)>& progress, Error* error);

}  // namespace nvmf::initiator
