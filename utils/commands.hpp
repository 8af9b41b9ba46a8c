// One function per subcommand family; nvmf.cpp calls them all. `nvmf target` lives in cmd_target.hpp.
#pragma once
#include <CLI/CLI.hpp>

namespace nvmf::cli {

void add_discover_command(CLI::App& app);
void add_fabrics_commands(CLI::App& app);   // connect-all, list-subsys
void add_feature_commands(CLI::App& app);   // get-feature
void add_identify_commands(CLI::App& app);  // id-ctrl, id-ns, list-ns
void add_io_commands(CLI::App& app);        // read, write, compare, flush, write-zeroes, dsm
void add_log_commands(CLI::App& app);       // get-log, smart-log, error-log, effects-log, changed-ns-list-log
void add_perf_command(CLI::App& app);
void add_demo_command(CLI::App& app);
void add_dhchap_commands(CLI::App& app);  // gen-dhchap-key, check-dhchap-key
void add_tls_key_commands(CLI::App& app);  // gen-tls-key, check-tls-key
void add_attach_commands(CLI::App& app);   // attach, detach, list-attached
void add_resv_commands(CLI::App& app);     // resv-register, resv-acquire, resv-release, resv-report

}  // namespace nvmf::cli
