#include "utils/cmd_control.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "initiator/tls_options.hpp"
#include "target/config.hpp"
#include "target/config_json.hpp"
#include "target/control_client.hpp"
#include "utils/cmd_stats.hpp"

namespace nvmf::cli {

namespace {
using nlohmann::json;

struct ControlArgs {
  std::string socket = target::kDefaultControlSocket;
  std::string nqn, host, address, spec, file, serial, model;
  std::uint32_t nsid = 0;
  std::uint32_t block_size = 512;
  std::uint16_t portid = 0;
  std::vector<std::string> hosts, namespaces, subsystems;
};

/// Sends the request; prints the reply (pretty JSON for lists, nothing for plain success) or the refusal.
void send(const ControlArgs& a, const json& request, bool print_reply) {
  json reply = target::control_request(a.socket, request);
  if (!reply.value("ok", false)) {
    const json& e = reply["error"];
    std::string where = e.value("field", "");
    std::string value = e.value("value", "");
    std::fprintf(stderr, "nvmf target-ctl: %s%s%s\n", where.empty() ? "" : (where + ": ").c_str(),
                 value.empty() ? "" : ("'" + value + "': ").c_str(), e.value("reason", "refused").c_str());
    throw CLI::RuntimeError(1);
  }
  reply.erase("ok");
  if (print_reply && !reply.empty()) std::printf("%s\n", reply.dump(2).c_str());
}

json namespace_json(const ControlArgs& a) {
  target::NamespaceConfig ns;
  try {
    ns = target::parse_namespace(a.spec, a.block_size);
  } catch (const std::invalid_argument& e) {
    throw CLI::ValidationError("SPEC", e.what());
  }
  ns.nsid = a.nsid;
  ns.hosts = a.hosts;
  json j = target::namespace_to_json(ns);
  if (a.nsid == 0) j.erase("nsid");
  return j;
}
}  // namespace

void add_control_commands(CLI::App& app) {
  auto a = std::make_shared<ControlArgs>();
  CLI::App* ctl = app.add_subcommand("target-ctl", "Change a running `nvmf target` through its control socket");
  ctl->add_option("--socket", a->socket, "Control socket of the target")->capture_default_str();
  ctl->require_subcommand(1);

  auto simple = [&](const char* name, const char* help, const char* op, bool print) {
    ctl->add_subcommand(name, help)->callback([a, op, print] { send(*a, json{{"op", op}}, print); });
  };
  simple("list", "Subsystems, namespaces, ports and referrals being served", "list", true);
  simple("list-controllers", "Connected hosts: controllers and their I/O queues, by subsystem", "list-controllers", true);
  add_stats_commands(*ctl, [a] { return a->socket; });

  CLI::App* reload = ctl->add_subcommand(
      "reload", "Re-read the target's configuration file and apply the difference (refused whole if invalid)");
  reload->callback([a] { send(*a, json{{"op", "reload"}}, true); });

  CLI::App* save = ctl->add_subcommand("save-config", "Write what is served as a file `nvmf target --config` reads");
  save->add_option("FILE", a->file, "Output file")->required();
  save->callback([a] {
    json reply = target::control_request(a->socket, json{{"op", "save-config"}});
    if (!reply.value("ok", false)) return send(*a, json{{"op", "save-config"}}, false);
    // Owner-only (0600): the file may hold TLS PSKs and DH-HMAC-CHAP secrets.
    const std::string text = reply["config"].dump(2) + "\n";
    int fd = ::open(a->file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    bool ok = fd >= 0 && ::fchmod(fd, 0600) == 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    if (fd >= 0 && ::close(fd) != 0) ok = false;
    if (!ok) {
      std::fprintf(stderr, "nvmf target-ctl: cannot write %s\n", a->file.c_str());
      throw CLI::RuntimeError(1);
    }
  });

  auto dh = std::make_shared<target::HostConfig>();
  CLI::App* dhchap = ctl->add_subcommand(
      "set-host-dhchap", "Set a host's DH-HMAC-CHAP secrets, hashes and DH groups (next authentication on)");
  dhchap->add_option("HOSTNQN", dh->nqn)->required();
  dhchap->add_option("--dhchap-key", dh->dhchap_key, "Host secret DHHC-1:HH:...: (none: no authentication)");
  dhchap->add_option("--dhchap-ctrl-key", dh->dhchap_ctrl_key, "Controller secret (bidirectional)");
  dhchap->add_option("--dhchap-hash", dh->dhchap_hashes, "Allowed hash (repeatable; none: all)");
  dhchap->add_option("--dhchap-dhgroup", dh->dhchap_dhgroups, "Allowed DH group (repeatable; none: all)");
  dhchap->callback([a, dh] { send(*a, json{{"op", "set-host-dhchap"}, {"host", target::host_to_json(*dh)}}, false); });

  CLI::App* add_sub = ctl->add_subcommand("add-subsystem", "Create a subsystem");
  add_sub->add_option("NQN", a->nqn)->required();
  add_sub->add_option("--namespace", a->namespaces, "ram:SIZE[,prefault[,huge_pages]] | null:SIZE | file:PATH | blk:PATH | nvme:PATH | fault:SPEC?FAULTS");
  add_sub->add_option("--allow-host", a->hosts, "Allowed host NQN (repeatable; none: any host)");
  add_sub->add_option("--serial", a->serial, "Serial number (default: derived from the NQN)");
  add_sub->add_option("--model", a->model, "Model number");
  add_sub->add_option("--block-size", a->block_size, "Block size of ram, null and file namespaces");
  add_sub->callback([a] {
    target::SubsystemConfig s;
    s.nqn = a->nqn;
    s.serial = a->serial;
    if (!a->model.empty()) s.model = a->model;
    s.allowed_hosts = a->hosts;
    for (const auto& n : a->namespaces) {
      try {
        s.namespaces.push_back(target::parse_namespace(n, a->block_size));
      } catch (const std::invalid_argument& e) {
        throw CLI::ValidationError("--namespace", e.what());
      }
    }
    json j = target::subsystem_to_json(target::resolve_defaults(s));
    if (a->serial.empty()) j.erase("serial");  // let the target derive it
    send(*a, json{{"op", "add-subsystem"}, {"subsystem", j}}, false);
  });

  CLI::App* rm_sub = ctl->add_subcommand("remove-subsystem", "Delete a subsystem (its controllers are closed)");
  rm_sub->add_option("NQN", a->nqn)->required();
  rm_sub->callback([a] { send(*a, json{{"op", "remove-subsystem"}, {"nqn", a->nqn}}, false); });

  CLI::App* add_ns = ctl->add_subcommand("add-ns", "Add a namespace to a subsystem; prints its NSID");
  add_ns->add_option("NQN", a->nqn)->required();
  add_ns->add_option("SPEC", a->spec, "ram:SIZE[,prefault[,huge_pages]] | null:SIZE | file:PATH | blk:PATH | nvme:PATH | fault:SPEC?FAULTS")->required();
  add_ns->add_option("--nsid", a->nsid, "NSID (default: the lowest free one)");
  add_ns->add_option("--block-size", a->block_size, "Block size of ram, null and file namespaces");
  add_ns->add_option("--host", a->hosts, "Only this host sees the namespace (repeatable)");
  add_ns->callback([a] { send(*a, json{{"op", "add-ns"}, {"nqn", a->nqn}, {"namespace", namespace_json(*a)}}, true); });

  for (auto [name, op, help] : {std::tuple{"remove-ns", "remove-ns", "Remove a namespace (in-flight I/O completes)"},
                                std::tuple{"resize-ns", "resize-ns", "Re-read the size of a file or block namespace"}}) {
    CLI::App* cmd = ctl->add_subcommand(name, help);
    cmd->add_option("NQN", a->nqn)->required();
    cmd->add_option("NSID", a->nsid)->required();
    std::string o = op;
    cmd->callback([a, o] { send(*a, json{{"op", o}, {"nqn", a->nqn}, {"nsid", a->nsid}}, o == "resize-ns"); });
  }

  for (auto [name, help] : {std::pair{"add-host", "Allow a host on a subsystem"},
                            std::pair{"remove-host", "Revoke a host (its controllers are closed)"}}) {
    CLI::App* cmd = ctl->add_subcommand(name, help);
    cmd->add_option("NQN", a->nqn)->required();
    cmd->add_option("HOST", a->host, "Host NQN")->required();
    std::string o = name;
    cmd->callback([a, o] { send(*a, json{{"op", o}, {"nqn", a->nqn}, {"host", a->host}}, false); });
  }

  CLI::App* set_psk = ctl->add_subcommand("set-tls-psk", "Give a host a TLS PSK (replaces its key; next handshake on)");
  set_psk->add_option("HOST", a->host, "Host NQN")->required();
  set_psk->add_option("KEY", a->file, "NVMeTLSkey-1:HH:...: or a file holding it")->required();
  set_psk->callback([a] {
    std::string why;
    const std::string key = initiator::read_tls_key_argument(a->file, &why);
    if (key.empty()) throw CLI::ValidationError("KEY", why);
    send(*a, json{{"op", "set-tls-psk"}, {"host", a->host}, {"tls_psk", key}}, false);
  });
  CLI::App* rm_psk = ctl->add_subcommand("remove-tls-psk", "Remove a host's TLS PSK (established sessions stay)");
  rm_psk->add_option("HOST", a->host, "Host NQN")->required();
  rm_psk->callback([a] { send(*a, json{{"op", "remove-tls-psk"}, {"host", a->host}}, false); });

  CLI::App* add_l = ctl->add_subcommand("add-listener", "Listen on another address; prints the bound address");
  add_l->add_option("ADDRESS", a->address, "tcp:ADDR:PORT or rdma:ADDR:PORT")->required();
  add_l->add_option("--subsystem", a->subsystems, "Serve only these subsystems there (repeatable)");
  add_l->callback([a] {
    json r{{"op", "add-listener"}, {"address", a->address}};
    if (!a->subsystems.empty()) r["subsystems"] = a->subsystems;
    send(*a, r, true);
  });
  CLI::App* rm_l = ctl->add_subcommand("remove-listener", "Stop listening (controllers that came through it close)");
  rm_l->add_option("ADDRESS", a->address)->required();
  rm_l->callback([a] { send(*a, json{{"op", "remove-listener"}, {"address", a->address}}, false); });

  CLI::App* add_r = ctl->add_subcommand("add-referral", "List another discovery service in the discovery log");
  add_r->add_option("ADDRESS", a->address)->required();
  add_r->add_option("--portid", a->portid, "PORTID reported in the entry");
  add_r->callback([a] { send(*a, json{{"op", "add-referral"}, {"address", a->address}, {"portid", a->portid}}, false); });
  CLI::App* rm_r = ctl->add_subcommand("remove-referral", "Remove a referral");
  rm_r->add_option("ADDRESS", a->address)->required();
  rm_r->callback([a] { send(*a, json{{"op", "remove-referral"}, {"address", a->address}}, false); });

  // ANA (docs/paths-and-reservations.md): one port's state for one ANA group; its controllers get the notice.
  CLI::App* ana = ctl->add_subcommand("set-ana-state", "Set a port's ANA state for an ANA group");
  ana->add_option("--port", a->portid, "Port ID (`target-ctl list`)")->required();
  ana->add_option("--group", a->nsid, "ANA group ID (1-128)")->required();
  ana->add_option("--state", a->spec, "optimized, non-optimized, inaccessible, persistent-loss or change")->required();
  ana->callback([a] {
    send(*a, json{{"op", "set-ana-state"}, {"port", a->portid}, {"group", a->nsid}, {"state", a->spec}}, false);
  });
}

}  // namespace nvmf::cli
