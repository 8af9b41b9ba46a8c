// Runs a perf job against one namespace of a connected controller: one worker thread per queue, each with its
// own reactor and I/O queue (over a multipath set: one I/O queue per path on the worker's reactor); the calling
// thread keeps the admin queues alive (keep-alive, reconnects, ANA logs) and samples progress.
#pragma once
#include <functional>

#include "initiator/controller.hpp"
#include "initiator/error.hpp"
#include "initiator/multipath.hpp"
#include "initiator/namespace.hpp"
#include "initiator/workload/perf_config.hpp"

namespace nvmf::initiator {

/// Check the configuration against the namespace and controller (of which `queues_in_use` I/O queues are
/// taken already); the reason in words, empty when fine.
std::string validate_perf_config(const PerfConfig& config, const Namespace& ns, const Controller& ctrl,
                                 unsigned queues_in_use = 0);

/// Run the job. Configuration or queue-creation problems come back in *error (result empty); I/O errors and
/// verify mismatches are in the result (PerfResult::ok()). `progress` (may be empty) runs once a second on
/// the calling thread.
PerfResult run_perf(Controller& ctrl, const Namespace& ns, const PerfConfig& config,
                    const std::function<void(const PerfProgress&)>& progress, Error* error);

/// The same over every path of a multipath set, on namespace `ns` (as the set's first path describes it); each
/// worker's queue picks paths by config.path_policy. Each path's controller needs config.queues I/O queues
/// besides the set's own.
PerfResult run_perf(MultipathSet& set, const Namespace& ns, const PerfConfig& config,
                    const std::function<void(const PerfProgress&)>& progress, Error* error);

}  // namespace nvmf::initiator
