// nvmf id-ctrl, id-ns, list-ns: Identify over a fabrics connection, printed as nvme-cli prints them.
#include <cstdio>
#include <memory>

#include "initiator/commands.hpp"
#include "utils/cli_common.hpp"
#include "utils/commands.hpp"
#include "utils/identify_output.hpp"

namespace nvmf::cli {

namespace {
void add_id_ctrl(CLI::App& app) {
  auto args = std::make_shared<ConnectArgs>();
  CLI::App* cmd = app.add_subcommand("id-ctrl", "Identify Controller");
  add_connect_options(cmd, *args, false);
  cmd->callback([args] {
    args->options.nr_io_queues = 0;
    auto ctrl = connect_or_exit(*args);
    auto j = id_ctrl_json(ctrl->id());
    if (args->json())
      print_json(j);
    else {
      std::printf("NVME Identify Controller:\n");
      print_fields(j);
    }
    ctrl->shutdown();
  });
}

void add_id_ns(CLI::App& app) {
  auto args = std::make_shared<ConnectArgs>();
  auto nsid = std::make_shared<std::uint32_t>(1);
  CLI::App* cmd = app.add_subcommand("id-ns", "Identify Namespace");
  add_connect_options(cmd, *args, false);
  cmd->add_option("-N,--namespace-id", *nsid, "Namespace to identify")->capture_default_str();
  cmd->callback([args, nsid] {
    args->options.nr_io_queues = 0;
    auto ctrl = connect_or_exit(*args);
    auto id = std::make_unique<nvme_id_ns>();
    nvme::Status s = ctrl->identify_namespace(*nsid, id.get());
    if (!s.ok()) fail("Identify Namespace " + std::to_string(*nsid) + ": " + s.to_string());
    auto j = id_ns_json(*id);
    if (args->json())
      print_json(j);
    else {
      std::printf("NVME Identify Namespace %u:\n", *nsid);
      print_fields(j);
    }
    ctrl->shutdown();
  });
}

void add_list_ns(CLI::App& app) {
  auto args = std::make_shared<ConnectArgs>();
  CLI::App* cmd = app.add_subcommand("list-ns", "List the active namespaces");
  add_connect_options(cmd, *args, false);
  cmd->callback([args] {
    args->options.nr_io_queues = 0;
    auto ctrl = connect_or_exit(*args);
    if (args->json()) {
      nlohmann::ordered_json list = nlohmann::ordered_json::array();
      for (const auto& ns : ctrl->namespaces())
        list.push_back({{"nsid", ns.nsid}, {"block_size", ns.block_size}, {"nsze", ns.capacity_blocks}});
      print_json(nlohmann::ordered_json{{"nsid_list", list}});
    } else {
      std::size_t i = 0;
      for (const auto& ns : ctrl->namespaces())
        std::printf("[%4zu]:%#x  %llu blocks of %u bytes\n", i++, ns.nsid,
                    static_cast<unsigned long long>(ns.capacity_blocks), ns.block_size);
    }
    ctrl->shutdown();
  });
}
}  // namespace

void add_identify_commands(CLI::App& app) {
  add_id_ctrl(app);
  add_id_ns(app);
  add_list_ns(app);
}

}  // namespace nvmf::cli
