// nvmf: the toolkit's command line. One subcommand family per file (cmd_*.cpp); `nvmf target` comes from the
// target side (cmd_target.cpp), everything else is the host side over the initiator library.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

#include "fabric/log.hpp"
#include "utils/commands.hpp"
#include "utils/cmd_control.hpp"
#include "utils/cmd_target.hpp"

int main(int argc, char** argv) {
  CLI::App app{"nvmf: NVMe over Fabrics target, host tools and benchmarks"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "nvmf " NVMF_VERSION);
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "Debug logging");
  app.parse_complete_callback([&verbose] {
    if (verbose) nvmf::log::set_level(nvmf::log::Level::debug);
  });

  nvmf::cli::add_target_command(app);
  nvmf::cli::add_control_commands(app);
  nvmf::cli::add_discover_command(app);
  nvmf::cli::add_fabrics_commands(app);
  nvmf::cli::add_feature_commands(app);
  nvmf::cli::add_identify_commands(app);
  nvmf::cli::add_io_commands(app);
  nvmf::cli::add_log_commands(app);
  nvmf::cli::add_perf_command(app);
  nvmf::cli::add_demo_command(app);
  nvmf::cli::add_dhchap_commands(app);
  nvmf::cli::add_tls_key_commands(app);
  nvmf::cli::add_attach_commands(app);
  nvmf::cli::add_resv_commands(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nvmf: %s\n", e.what());
    return 1;
  }
  return 0;
}
