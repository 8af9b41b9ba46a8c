// nvmf get-log, smart-log, error-log, effects-log, changed-ns-list-log: Get Log Page, parsed for the Error
// Information (01h), SMART / Health (02h), Changed Namespace List (04h), Commands Supported and Effects (05h)
// and Discovery (70h) pages with nvme-cli's JSON names, raw hex for the others.
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "initiator/discovery.hpp"
#include "nvme/fabrics.hpp"
#include "utils/cli_common.hpp"
#include "utils/commands.hpp"
#include "utils/discovery_output.hpp"

namespace nvmf::cli {

namespace {
// 128-bit little-endian counters; a double keeps their magnitude (nvme-cli prints them as long double).
double u128(const std::uint8_t (&v)[16]) {
  double out = 0;
  for (int i = 15; i >= 0; --i) out = out * 256 + v[i];
  return out;
}

nlohmann::ordered_json smart_json(const nvme_smart_log& s) {
  nlohmann::ordered_json j;
  j["critical_warning"] = s.critical_warning;
  j["temperature"] = s.temperature[0] | s.temperature[1] << 8;  // Kelvin
  j["avail_spare"] = s.avail_spare;
  j["spare_thresh"] = s.spare_thresh;
  j["percent_used"] = s.percent_used;
  j["endurance_grp_critical_warning_summary"] = s.endu_grp_crit_warn_sumry;
  j["data_units_read"] = u128(s.data_units_read);
  j["data_units_written"] = u128(s.data_units_written);
  j["host_read_commands"] = u128(s.host_reads);
  j["host_write_commands"] = u128(s.host_writes);
  j["controller_busy_time"] = u128(s.ctrl_busy_time);
  j["power_cycles"] = u128(s.power_cycles);
  j["power_on_hours"] = u128(s.power_on_hours);
  j["unsafe_shutdowns"] = u128(s.unsafe_shutdowns);
  j["media_errors"] = u128(s.media_errors);
  j["num_err_log_entries"] = u128(s.num_err_log_entries);
  j["warning_temp_time"] = s.warning_temp_time;
  j["critical_comp_time"] = s.critical_comp_time;
  return j;
}

nlohmann::ordered_json error_log_json(const nvme_error_log_page* e, std::size_t n) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (std::size_t i = 0; i < n; ++i) {
    list.push_back({{"error_count", e[i].error_count},
                    {"sqid", e[i].sqid},
                    {"cmdid", e[i].cmdid},
                    {"status_field", e[i].status_field >> 1},
                    {"phase_tag", e[i].status_field & 1},
                    {"parm_error_location", e[i].parm_error_location},
                    {"lba", e[i].lba},
                    {"nsid", e[i].nsid},
                    {"vs", e[i].vs},
                    {"trtype", e[i].trtype},
                    {"cs", e[i].cs},
                    {"trtype_spec_info", e[i].trtype_spec_info}});
  }
  return {{"errors", list}};
}

void print_ordered(const nlohmann::ordered_json& j) {
  for (const auto& [k, v] : j.items()) std::printf("%-40s: %s\n", k.c_str(), v.dump().c_str());
}

void print_hex(const std::vector<std::uint8_t>& data) {
  for (std::size_t off = 0; off < data.size(); off += 16) {
    std::printf("%04zx:", off);
    for (std::size_t i = off; i < off + 16 && i < data.size(); ++i) std::printf(" %02x", data[i]);
    std::printf("\n");
  }
}

// Changed Namespace List (04h): up to 1024 NSIDs, zero-terminated; FFFFFFFFh first means "more than 1024".
// Reading it without RAE clears it and re-arms the namespace notice.
void show_changed_ns(initiator::Controller& ctrl, bool json, bool rae) {
  auto list = std::make_unique<nvme_ns_list>();
  nvme::Status s = ctrl.get_log_page(NVME_LOG_LID_CHANGED_NS, NVME_NSID_ALL, list.get(), sizeof *list, 0, rae);
  if (!s.ok()) fail("Get Log Page 04h (Changed Namespace List): " + s.to_string());
  nlohmann::ordered_json nsids = nlohmann::ordered_json::array();
  for (std::uint32_t nsid : list->ns) {
    if (nsid == 0) break;
    nsids.push_back(nsid);
  }
  if (json) {
    print_json(nlohmann::ordered_json{{"changed_ns_list", nsids}});
    return;
  }
  std::printf("Changed Namespace List Log for controller %u\n", ctrl.cntlid());
  if (nsids.empty()) std::printf("No changed namespaces\n");
  for (const auto& n : nsids) {
    const auto nsid = n.get<std::uint32_t>();
    if (nsid == NVME_NSID_ALL)
      std::printf("more than 1024 namespaces changed\n");
    else
      std::printf("[%4u]:%#x\n", nsid, nsid);
  }
}

// Commands Supported and Effects (05h): one dword per opcode, admin then I/O; only supported ones (CSUPP).
void show_effects(initiator::Controller& ctrl, bool json) {
  auto log = std::make_unique<nvme_cmd_effects_log>();
  nvme::Status s = ctrl.get_log_page(NVME_LOG_LID_CMD_EFFECTS, NVME_NSID_ALL, log.get(), sizeof *log);
  if (!s.ok()) fail("Get Log Page 05h (Commands Supported and Effects): " + s.to_string());
  auto entries = [](const std::uint32_t* effects) {
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (unsigned op = 0; op < 256; ++op) {
      const std::uint32_t e = effects[op];
      if (!(e & NVME_CMD_EFFECTS_CSUPP)) continue;
      list.push_back({{"opcode", op},
                      {"effects", e},
                      {"lbcc", bool(e & NVME_CMD_EFFECTS_LBCC)},
                      {"ncc", bool(e & NVME_CMD_EFFECTS_NCC)},
                      {"nic", bool(e & NVME_CMD_EFFECTS_NIC)},
                      {"ccc", bool(e & NVME_CMD_EFFECTS_CCC)},
                      {"cse", (e >> 16) & 0x7}});
    }
    return list;
  };
  nlohmann::ordered_json j = {{"admin_commands", entries(log->acs)}, {"io_commands", entries(log->iocs)}};
  if (json) {
    print_json(j);
    return;
  }
  std::printf("Commands Supported and Effects Log for controller %u\n", ctrl.cntlid());
  for (const char* set : {"admin_commands", "io_commands"}) {
    std::printf("%s:\n", set[0] == 'a' ? "Admin Command Set" : "NVM Command Set");
    for (const auto& e : j[set])
      std::printf("  opcode %#04x  effects %#010x%s%s%s%s\n", e["opcode"].get<unsigned>(), e["effects"].get<unsigned>(),
                  e["lbcc"].get<bool>() ? "  LBCC" : "", e["ncc"].get<bool>() ? "  NCC" : "",
                  e["nic"].get<bool>() ? "  NIC" : "", e["ccc"].get<bool>() ? "  CCC" : "");
  }
}

void show_smart(initiator::Controller& ctrl, bool json) {
  nvme_smart_log log;
  nvme::Status s = ctrl.get_log_page(NVME_LOG_LID_SMART, NVME_NSID_ALL, &log, sizeof log);
  if (!s.ok()) fail("Get Log Page 02h (SMART / Health): " + s.to_string());
  auto j = smart_json(log);
  if (json)
    print_json(j);
  else {
    std::printf("Smart Log for NVME device (controller %u)\n", ctrl.cntlid());
    print_ordered(j);
  }
}

void show_errors(initiator::Controller& ctrl, bool json, unsigned entries) {
  if (entries == 0) entries = ctrl.id().elpe + 1u;  // ELPE is 0's based
  std::vector<nvme_error_log_page> log(entries);
  nvme::Status s = ctrl.get_log_page(NVME_LOG_LID_ERROR, NVME_NSID_ALL, log.data(),
                                     static_cast<std::uint32_t>(entries * sizeof(nvme_error_log_page)));
  if (!s.ok()) fail("Get Log Page 01h (Error Information): " + s.to_string());
  auto j = error_log_json(log.data(), log.size());
  if (json) {
    print_json(j);
    return;
  }
  std::printf("Error Log Entries for controller %u\n", ctrl.cntlid());
  for (std::size_t i = 0; i < j["errors"].size(); ++i) {
    std::printf(" Entry[%2zu]\n", i);
    print_ordered(j["errors"][i]);
  }
}
}  // namespace

void add_log_commands(CLI::App& app) {
  {
    auto args = std::make_shared<ConnectArgs>();
    CLI::App* cmd = app.add_subcommand("smart-log", "SMART / Health log page (02h)");
    add_connect_options(cmd, *args, false);
    cmd->callback([args] {
      args->options.nr_io_queues = 0;
      auto ctrl = connect_or_exit(*args);
      show_smart(*ctrl, args->json());
      ctrl->shutdown();
    });
  }
  {
    auto args = std::make_shared<ConnectArgs>();
    auto entries = std::make_shared<unsigned>(0);
    CLI::App* cmd = app.add_subcommand("error-log", "Error Information log page (01h)");
    add_connect_options(cmd, *args, false);
    cmd->add_option("-e,--log-entries", *entries, "Entries to read (default: ELPE + 1)");
    cmd->callback([args, entries] {
      args->options.nr_io_queues = 0;
      auto ctrl = connect_or_exit(*args);
      show_errors(*ctrl, args->json(), *entries);
      ctrl->shutdown();
    });
  }
  {
    auto args = std::make_shared<ConnectArgs>();
    CLI::App* cmd = app.add_subcommand("effects-log", "Commands Supported and Effects log page (05h)");
    add_connect_options(cmd, *args, false);
    cmd->callback([args] {
      args->options.nr_io_queues = 0;
      auto ctrl = connect_or_exit(*args);
      show_effects(*ctrl, args->json());
      ctrl->shutdown();
    });
  }
  {
    auto args = std::make_shared<ConnectArgs>();
    CLI::App* cmd = app.add_subcommand("changed-ns-list-log", "Changed Namespace List log page (04h)");
    add_connect_options(cmd, *args, false);
    cmd->callback([args] {
      args->options.nr_io_queues = 0;
      auto ctrl = connect_or_exit(*args);
      show_changed_ns(*ctrl, args->json(), false);
      ctrl->shutdown();
    });
  }
  {
    struct LogArgs {
      ConnectArgs connect;
      unsigned lid = 0;
      std::uint32_t length = 0;
      std::uint32_t nsid = NVME_NSID_ALL;
      bool rae = false;
    };
    auto a = std::make_shared<LogArgs>();
    CLI::App* cmd = app.add_subcommand("get-log", "Get Log Page: 01h error, 02h smart, 04h changed namespaces, 05h command effects, 70h discovery, others raw");
    add_connect_options(cmd, a->connect, false);
    cmd->get_option("--nqn")->required(false)->default_str(nvme::kDiscoveryNqn);
    cmd->add_option("--log-id", a->lid, "Log page identifier (nvme-cli: -i)")->required()->check(CLI::Range(0, 255));
    cmd->add_option("-l,--log-len", a->length, "Bytes to read (raw pages; a multiple of 4)");
    cmd->add_option("-N,--namespace-id", a->nsid, "Namespace (default FFFFFFFFh)");
    cmd->add_flag("-r,--rae", a->rae, "Retain asynchronous event");
    cmd->callback([a] {
      a->connect.options.nr_io_queues = 0;
      if (a->lid == NVME_LOG_LID_DISCOVER && a->connect.options.subnqn.empty())
        a->connect.options.subnqn = nvme::kDiscoveryNqn;
      auto ctrl = connect_or_exit(a->connect);
      if (a->lid == NVME_LOG_LID_SMART && a->length == 0) {
        show_smart(*ctrl, a->connect.json());
      } else if (a->lid == NVME_LOG_LID_ERROR && a->length == 0) {
        show_errors(*ctrl, a->connect.json(), 0);
      } else if (a->lid == NVME_LOG_LID_CHANGED_NS && a->length == 0) {
        show_changed_ns(*ctrl, a->connect.json(), a->rae);
      } else if (a->lid == NVME_LOG_LID_CMD_EFFECTS && a->length == 0) {
        show_effects(*ctrl, a->connect.json());
      } else if (a->lid == NVME_LOG_LID_DISCOVER && a->length == 0) {
        initiator::DiscoveryLog log;
        if (initiator::Error e = initiator::read_discovery_log(*ctrl, &log)) fail(e.to_string());
        if (a->connect.json())
          print_json(discovery_log_json(log));
        else
          print_discovery_log(log);
      } else {
        if (a->length == 0 || a->length % 4) fail("--log-len must be a non-zero multiple of 4 for a raw log page");
        std::vector<std::uint8_t> data(a->length);
        nvme::Status s = ctrl->get_log_page(static_cast<std::uint8_t>(a->lid), a->nsid, data.data(), a->length, 0, a->rae);
        if (!s.ok()) fail("Get Log Page " + std::to_string(a->lid) + ": " + s.to_string());
        if (a->connect.json())
          print_json(nlohmann::ordered_json{{"log_id", a->lid}, {"data", hex_bytes(data.data(), data.size())}});
        else
          print_hex(data);
      }
      ctrl->shutdown();
    });
  }
}

}  // namespace nvmf::cli
