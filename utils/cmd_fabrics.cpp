// nvmf connect-all and list-subsys: discovery across referrals, then (connect-all) attach every NVM subsystem.
// For a user-space host "attach" is a session, not a kernel block device: connect admin and one I/O queue,
// identify, report the namespaces, disconnect with an orderly shutdown. Nothing stays connected when the
// command returns, in normal and JSON output alike. Exit status 1 when any subsystem failed to attach.
#include <cstdio>
#include <map>

#include "initiator/discovery_walk.hpp"
#include "utils/cli_common.hpp"
#include "utils/commands.hpp"

namespace nvmf::cli {

namespace {
nlohmann::ordered_json path_json(const initiator::DiscoveryEntry& e) {
  return {{"trtype", initiator::trtype_string(e.trtype)},
          {"adrfam", initiator::adrfam_string(e.adrfam)},
          {"traddr", e.traddr},
          {"trsvcid", e.trsvcid},
          {"portid", e.portid},
          {"treq", initiator::treq_string(e.treq)}};
}

initiator::DiscoveryWalk walk_or_exit(ConnectArgs& args, unsigned depth) {
  initiator::DiscoveryWalk walk;
  if (initiator::Error e = initiator::walk_discovery(controller_options(args), &walk, depth))
    fail("discover: " + e.to_string());
  for (const auto& err : walk.errors) std::fprintf(stderr, "nvmf: %s\n", err.c_str());
  return walk;
}

void add_connect_all(CLI::App& app) {
  auto args = std::make_shared<ConnectArgs>();
  auto depth = std::make_shared<unsigned>(4);
  CLI::App* cmd = app.add_subcommand(
      "connect-all", "Attach every NVM subsystem the discovery log lists (following referrals): connect, one I/O "
                     "queue, identify, report namespaces, disconnect");
  add_connect_options(cmd, *args, true);
  cmd->add_option("--referral-depth", *depth, "Levels of referrals to follow")->capture_default_str();
  cmd->callback([args, depth] {
    initiator::DiscoveryWalk walk = walk_or_exit(*args, *depth);
    initiator::ControllerOptions base = controller_options(*args);
    base.keep_alive_timeout_ms = 5000;  // the I/O controllers' KATO; the discovery default of 0 is not for them
    auto reports = initiator::attach_all(walk.subsystems(), base);
    bool all_ok = true;
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const auto& r : reports) {
      all_ok = all_ok && !r.error;
      if (args->json()) {
        nlohmann::ordered_json j = {{"subnqn", r.entry.subnqn}, {"path", path_json(r.entry)}};
        if (r.error) {
          j["attached"] = false;
          j["error"] = r.error.to_string();
        } else {
          nlohmann::ordered_json ns = nlohmann::ordered_json::array();
          for (const auto& n : r.namespaces)
            ns.push_back({{"nsid", n.nsid}, {"block_size", n.block_size}, {"nsze", n.capacity_blocks},
                          {"size_bytes", n.size_bytes()}});
          j["attached"] = true;
          j["cntlid"] = r.cntlid;
          j["model"] = r.model;
          j["serial"] = r.serial;
          j["io_queues"] = r.io_queues;
          j["namespaces"] = ns;
        }
        list.push_back(j);
        continue;
      }
      std::printf("%s at %s %s:%s: ", r.entry.subnqn.c_str(), initiator::trtype_string(r.entry.trtype).c_str(),
                  r.entry.traddr.c_str(), r.entry.trsvcid.c_str());
      if (r.error) {
        std::printf("FAILED: %s\n", r.error.to_string().c_str());
        continue;
      }
      std::printf("attached controller %u (%s, SN %s), %zu namespace(s)\n", r.cntlid, r.model.c_str(),
                  r.serial.c_str(), r.namespaces.size());
      for (const auto& n : r.namespaces)
        std::printf("  nsid %u: %llu blocks of %u bytes\n", n.nsid, static_cast<unsigned long long>(n.capacity_blocks),
                    n.block_size);
    }
    if (args->json()) print_json(nlohmann::ordered_json{{"subsystems", list}, {"referral_errors", walk.errors}});
    if (reports.empty()) std::fprintf(stderr, "nvmf: the discovery log lists no NVM subsystem\n");
    if (!all_ok) throw CLI::RuntimeError(1);
  });
}

void add_list_subsys(CLI::App& app) {
  auto args = std::make_shared<ConnectArgs>();
  auto depth = std::make_shared<unsigned>(4);
  CLI::App* cmd = app.add_subcommand(
      "list-subsys", "NVM subsystems the discovery log offers (following referrals), with their paths");
  add_connect_options(cmd, *args, true);
  cmd->add_option("--referral-depth", *depth, "Levels of referrals to follow")->capture_default_str();
  cmd->callback([args, depth] {
    initiator::DiscoveryWalk walk = walk_or_exit(*args, *depth);
    std::map<std::string, std::vector<initiator::DiscoveryEntry>> by_nqn;
    for (const auto& e : walk.subsystems()) by_nqn[e.subnqn].push_back(e);
    if (args->json()) {
      nlohmann::ordered_json list = nlohmann::ordered_json::array();
      for (const auto& [nqn, paths] : by_nqn) {
        nlohmann::ordered_json p = nlohmann::ordered_json::array();
        for (const auto& e : paths) p.push_back(path_json(e));
        list.push_back({{"nqn", nqn}, {"paths", p}});
      }
      print_json(nlohmann::ordered_json{{"subsystems", list}, {"discovery_controllers", walk.visited},
                                        {"referral_errors", walk.errors}});
      return;
    }
    for (const auto& [nqn, paths] : by_nqn) {
      std::printf("%s\n", nqn.c_str());
      for (const auto& e : paths)
        std::printf(" +- %s traddr=%s trsvcid=%s portid=%u\n", initiator::trtype_string(e.trtype).c_str(),
                    e.traddr.c_str(), e.trsvcid.c_str(), e.portid);
    }
  });
}
}  // namespace

void add_fabrics_commands(CLI::App& app) {
  add_connect_all(app);
  add_list_subsys(app);
}

}  // namespace nvmf::cli
