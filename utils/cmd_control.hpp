// `nvmf target-ctl`: change a running `nvmf target` through its control socket (list, add/remove subsystems,
// namespaces, hosts, listeners, referrals; list controllers; save the configuration).
#pragma once
#include <CLI/CLI.hpp>

namespace nvmf::cli {

void add_control_commands(CLI::App& app);

}  // namespace nvmf::cli
