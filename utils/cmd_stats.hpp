// `nvmf target-ctl stats [-o json]` and `nvmf target-ctl top`: the target's I/O statistics through its control
// socket, once as a table (or the JSON reply) or as a live, refreshing view of rates. docs/monitoring.md.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "target/io_stats.hpp"

namespace nvmf::cli {

/// Adds `stats` and `top` under `ctl`; `socket` gives the control socket path when they run.
void add_stats_commands(CLI::App& ctl, std::function<std::string()> socket);

/// What happened between two snapshots (`before` from an earlier reply); counters that went backwards (a
/// restarted target) count from zero.
target::IoSnapshot stats_delta(const target::IoSnapshot& now, const target::IoSnapshot& before);

/// The stats request, failing with the target's reason.
nlohmann::json fetch_stats(const std::string& socket);

/// `nvmf target-ctl top`: `iterations` 0 runs until q, Ctrl-C or a signal.
int run_top(const std::string& socket, double interval_s, unsigned iterations);

}  // namespace nvmf::cli
