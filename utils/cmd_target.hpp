// `nvmf target`: run an NVMe-oF target (NVMe/TCP) serving RAM, null or file namespaces until SIGINT/SIGTERM.
#pragma once
#include <CLI/CLI.hpp>

namespace nvmf::cli {

void add_target_command(CLI::App& app);

}  // namespace nvmf::cli
