// nvmf discover: read the discovery log page, print it as `nvme discover` does (normal and JSON).
#include <cstdio>

#include "initiator/discovery.hpp"
#include "utils/cli_common.hpp"
#include "utils/commands.hpp"
#include "utils/discovery_output.hpp"

namespace nvmf::cli {

void add_discover_command(CLI::App& app) {
  auto args = std::make_shared<ConnectArgs>();
  CLI::App* cmd = app.add_subcommand("discover", "Read the discovery log page of a discovery controller");
  add_connect_options(cmd, *args, true);
  cmd->callback([args] {
    args->options = controller_options(*args);
    initiator::DiscoveryLog log;
    if (initiator::Error e = initiator::discover(args->options, &log)) fail("discover: " + e.to_string());
    if (args->json())
      print_json(discovery_log_json(log));
    else
      print_discovery_log(log);
  });
}

}  // namespace nvmf::cli
