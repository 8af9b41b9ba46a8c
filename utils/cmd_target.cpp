#include "utils/cmd_target.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "fabric/log.hpp"
#include "fabric/reactor.hpp"
#include "initiator/tls_options.hpp"
#include "target/config_json.hpp"
#include "target/control_server.hpp"
#include "target/metrics_server.hpp"
#include "target/target.hpp"

namespace nvmf::cli {

namespace {

struct TargetArgs {
  std::string config_file;
  std::vector<std::string> listen;
  std::uint16_t discovery_port = 8009;
  std::string subsystem;
  std::vector<std::string> namespaces;
  std::vector<std::string> allowed_hosts;
  std::vector<std::string> tls_psks;  ///< HOSTNQN=KEY (interchange format or a file holding it)
  std::uint32_t block_size = 512;
  std::string cores;
  std::string serial;
  std::string model = target::kDefaultModel;
  std::string in_capsule_size;
  std::string max_io_size;
  std::uint16_t queue_depth = 128;
  std::uint16_t max_r2t_commands = 0;
  std::uint32_t send_timeout_ms = 30000;
  bool busy_poll = false;
  std::uint32_t adaptive_poll_us = target::TargetConfig{}.adaptive_poll_us;
  int verbose = 0;
  std::string ready_file;
  std::string control_socket = "/run/nvmf/target.sock";
  std::string metrics;
  // DH-HMAC-CHAP per host, each "HOSTNQN=VALUE" (repeatable): secrets, and comma-separated hashes / DH groups.
  std::vector<std::string> dhchap_keys, dhchap_ctrl_keys, dhchap_hashes, dhchap_dhgroups;
  /// Options given on the command line (CLI11 counts), to combine with --config.
  std::set<std::string> given;
  bool has(const std::string& option) const { return given.count(option) > 0; }
};

constexpr const char* kDefaultListen = "tcp:127.0.0.1:4420";

/// Turns a parse or validation failure into CLI11's error for `option`, before anything starts.
template <typename Fn>
auto checked(const std::string& option, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const std::invalid_argument& e) {
    throw CLI::ValidationError(option, e.what());
  }
}

/// The subsystem the command-line options describe, when they describe one.
std::optional<target::SubsystemConfig> command_line_subsystem(const TargetArgs& a) {
  const bool any = a.has("--subsystem") || a.has("--namespace") || a.has("--allow-host") || a.has("--serial") ||
                   a.has("--model");
  if (!a.config_file.empty() && !any) return std::nullopt;
  if (a.namespaces.empty())
    throw CLI::ValidationError("--namespace", "at least one namespace is needed (ram:SIZE, null:SIZE, file:PATH, "
                                              "blk:PATH or nvme:PATH)");
  target::SubsystemConfig s;
  s.nqn = a.subsystem;
  s.serial = a.serial;
  s.model = a.model;
  s.allowed_hosts = a.allowed_hosts;
  for (const auto& n : a.namespaces)
    s.namespaces.push_back(checked("--namespace", [&] { return target::parse_namespace(n, a.block_size); }));
  return s;
}

/// Adds the --dhchap-* options to the host entries (created when the file had none for that NQN).
void apply_dhchap_options(const TargetArgs& a, target::TargetConfig& c) {
  auto host = [&c](const std::string& nqn) -> target::HostConfig& {
    for (auto& h : c.hosts)
      if (h.nqn == nqn) return h;
    target::HostConfig h;
    h.nqn = nqn;
    c.hosts.push_back(h);
    return c.hosts.back();
  };
  auto each = [&](const std::vector<std::string>& values, const char* option, auto&& apply) {
    for (const auto& v : values) {
      const auto eq = v.find('=');
      // The value is not echoed: it may be a secret.
      if (eq == std::string::npos || eq == 0 || eq + 1 == v.size())
        throw CLI::ValidationError(option, "expected HOSTNQN=VALUE");
      apply(host(v.substr(0, eq)), v.substr(eq + 1));
    }
  };
  auto list = [](const std::string& text) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= text.size()) {
      const auto comma = text.find(',', start);
      out.push_back(text.substr(start, comma - start));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    return out;
  };
  each(a.dhchap_keys, "--dhchap-key", [](target::HostConfig& h, const std::string& v) { h.dhchap_key = v; });
  each(a.dhchap_ctrl_keys, "--dhchap-ctrl-key",
       [](target::HostConfig& h, const std::string& v) { h.dhchap_ctrl_key = v; });
  each(a.dhchap_hashes, "--dhchap-hash", [&](target::HostConfig& h, const std::string& v) { h.dhchap_hashes = list(v); });
  each(a.dhchap_dhgroups, "--dhchap-dhgroup",
       [&](target::HostConfig& h, const std::string& v) { h.dhchap_dhgroups = list(v); });
}

/// --config FILE first; then every option given on the command line: --listen adds listeners, the
/// subsystem options add one subsystem, the other options replace the file's values (docs/configuration.md).
target::TargetConfig build_config(const TargetArgs& a, std::optional<target::LoadedConfig>& loaded) {
  target::TargetConfig c;
  if (!a.config_file.empty()) {
    loaded = target::load_config_file(a.config_file);
    c = loaded->config;
  }
  std::vector<std::string> listen = a.listen;
  if (listen.empty() && c.listeners.empty()) listen.push_back(kDefaultListen);
  for (const auto& l : listen) c.listeners.push_back(checked("--listen", [&] { return target::parse_listen_address(l); }));
  if (a.has("--discovery-port") || !loaded) c.discovery_port = a.discovery_port;
  if (auto s = command_line_subsystem(a)) c.subsystems.push_back(std::move(*s));
  if (a.has("--cores")) c.cores = checked("--cores", [&] { return fabric::parse_cpu_list(a.cores); });
  if (a.has("--in-capsule-size"))
    c.limits.in_capsule_data_size =
        static_cast<std::uint32_t>(checked("--in-capsule-size", [&] { return target::parse_size(a.in_capsule_size); }));
  if (a.has("--max-io-size"))
    c.limits.max_io_size =
        static_cast<std::uint32_t>(checked("--max-io-size", [&] { return target::parse_size(a.max_io_size); }));
  if (a.has("--queue-depth") || !loaded) c.limits.max_queue_depth = a.queue_depth;
  if (a.has("--max-r2t-commands")) c.limits.max_r2t_commands = a.max_r2t_commands;
  if (a.has("--send-timeout")) c.limits.send_timeout_ms = a.send_timeout_ms;
  if (a.has("--busy-poll")) c.busy_poll = a.busy_poll;
  if (a.has("--adaptive-poll")) c.adaptive_poll_us = a.adaptive_poll_us;
  for (const auto& item : a.tls_psks) {
    const auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0)
      throw CLI::ValidationError("--tls-psk", "expected HOSTNQN=KEY (KEY: NVMeTLSkey-1:HH:...: or a file holding it)");
    std::string why;
    const std::string key = initiator::read_tls_key_argument(item.substr(eq + 1), &why);
    if (key.empty()) throw CLI::ValidationError("--tls-psk", why);
    const std::string nqn = item.substr(0, eq);
    auto it = std::find_if(c.hosts.begin(), c.hosts.end(), [&](const target::HostConfig& h) { return h.nqn == nqn; });
    if (it == c.hosts.end()) {
      c.hosts.emplace_back();
      c.hosts.back().nqn = nqn;
      it = c.hosts.end() - 1;
    }
    it->tls_psk = key;
  }
  if (a.verbose > 0) c.log_level = log::Level::debug;
  apply_dhchap_options(a, c);
  if (a.has("--control-socket")) c.control_socket = a.control_socket == "none" ? "" : a.control_socket;
  else if (!loaded || !loaded->origins.count("control_socket")) c.control_socket = a.control_socket;
  if (a.has("--metrics")) {
    if (a.metrics == "none") c.metrics.reset();
    else c.metrics = checked("--metrics", [&] { return target::parse_listen_address(a.metrics); });
  }
  return c;
}

/// A refusal of the combined configuration, named where the value came from: the file (JSON pointer) or the
/// command-line option.
std::string describe_refusal(const target::ConfigError& e, const std::optional<target::LoadedConfig>& loaded,
                             const TargetArgs& args) {
  // A value the command line replaced is the option's, even when the file also had one.
  static const std::pair<const char*, const char*> kReplacing[] = {{"max_io_size", "--max-io-size"},
                                                                   {"in_capsule_data_size", "--in-capsule-size"},
                                                                   {"max_queue_depth", "--queue-depth"},
                                                                   {"cores", "--cores"}};
  for (const auto& [field, name] : kReplacing)
    if (e.field().find(field) != std::string::npos && args.has(name)) return std::string(name) + ": " + e.what();
  if (loaded) {
    target::ConfigError located = target::locate(e, *loaded);
    if (located.field() != e.field()) return located.what();
  }
  // A per-host entry comes from the options that take HOSTNQN=VALUE; its fields must not be read as the
  // subsystem's (both have ".nqn").
  if (e.field().rfind("hosts[", 0) == 0) {
    static const std::pair<const char*, const char*> kHostOptions[] = {
        {".dhchap_ctrl_key", "--dhchap-ctrl-key"}, {".dhchap_key", "--dhchap-key"},
        {".dhchap_hashes", "--dhchap-hash"},       {".dhchap_dhgroups", "--dhchap-dhgroup"},
        {".tls_psk", "--tls-psk"}};
    for (const auto& [field, name] : kHostOptions)
      if (e.field().find(field) != std::string::npos) return std::string(name) + ": " + e.what();
    return std::string("the HOSTNQN of a HOSTNQN=VALUE option: ") + e.what();
  }
  static const std::pair<const char*, const char*> kOptions[] = {
      {"listeners", "--listen"},           {".nqn", "--subsystem"},
      {".serial", "--serial"},             {".model", "--model"},
      {".allowed_hosts", "--allow-host"},  {".namespaces", "--namespace"}, {".tls_psk", "--tls-psk"},
      {"max_io_size", "--max-io-size"},    {"in_capsule_data_size", "--in-capsule-size"},
      {"max_queue_depth", "--queue-depth"}, {"cores", "--cores"},
      {"metrics", "--metrics"}};
  for (const auto& [field, name] : kOptions)
    if (e.field().find(field) != std::string::npos) return std::string(name) + ": " + e.what();
  return e.what();
}

void write_ready_file(const std::string& path, const std::vector<fabric::ListenAddress>& addresses) {
  // Written to a temporary name and renamed, so a reader never sees a partial file.
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    for (const auto& a : addresses) out << a.to_string() << "\n";
    if (!out) throw std::runtime_error("cannot write ready file " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw std::runtime_error("cannot rename ready file to " + path);
}

/// Reload reads the same file and command line again; refusals are named after the file, as at start.
target::Target::ConfigSource reload_source(const TargetArgs& args) {
  auto last = std::make_shared<std::optional<target::LoadedConfig>>();
  auto read = [&args, last] {
    last->reset();
    try {
      target::TargetConfig c = build_config(args, *last);
      c.validate();
      return c;
    } catch (const target::ConfigError& e) {
      if (*last) throw target::locate(e, **last);
      throw;
    } catch (const CLI::Error& e) {
      throw target::ConfigError("", "", e.what());
    }
  };
  auto locate = [last](const target::ConfigError& e) { return *last ? target::locate(e, **last) : e; };
  return {read, locate};
}

int run_target(const TargetArgs& args) {
  std::optional<target::LoadedConfig> loaded;
  target::TargetConfig config;
  try {
    config = build_config(args, loaded);
    config.validate();
  } catch (const target::ConfigError& e) {
    std::fprintf(stderr, "nvmf target: %s\n", describe_refusal(e, loaded, args).c_str());
    return 1;
  }
  // Block the signals before any reactor thread exists, so only sigwait below receives them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);  // reload the configuration (systemd's ExecReload)
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  std::unique_ptr<target::Target> t;
  std::unique_ptr<target::ControlServer> control;
  std::unique_ptr<target::MetricsServer> metrics;
  const std::string socket_path = config.control_socket;
  const std::optional<fabric::ListenAddress> metrics_address = config.metrics;
  try {
    t = std::make_unique<target::Target>(std::move(config));
    t->set_config_source(reload_source(args));
    t->start();
    if (!socket_path.empty()) {
      try {
        control = std::make_unique<target::ControlServer>(*t, socket_path);
      } catch (const std::runtime_error& e) {
        // The default path needs /run (root) and one target per machine; without it the target still serves.
        const bool explicit_path = args.has("--control-socket") || (loaded && loaded->origins.count("control_socket"));
        if (explicit_path) throw;
        NVMF_LOG(warn, "%s; running without a control socket", e.what());
      }
    }
    if (metrics_address) metrics = std::make_unique<target::MetricsServer>(*t->registry(), *metrics_address);
    if (!args.ready_file.empty()) write_ready_file(args.ready_file, t->listen_addresses());
  } catch (const target::ConfigError& e) {
    std::fprintf(stderr, "nvmf target: %s\n", describe_refusal(e, loaded, args).c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nvmf target: %s\n", e.what());
    return 1;
  }
  int sig = 0;
  while (sigwait(&set, &sig) == 0 && sig == SIGHUP) {
    NVMF_LOG(info, "received SIGHUP, reloading the configuration");
    try {
      t->reload();
    } catch (const std::exception&) {
      // Logged by reload(); the target keeps serving what it served.
    }
  }
  NVMF_LOG(info, "received %s, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
  if (control) control->stop();
  if (metrics) metrics->stop();
  t->stop();
  if (!args.ready_file.empty()) ::unlink(args.ready_file.c_str());
  return 0;
}

}  // namespace

void add_target_command(CLI::App& app) {
  auto args = std::make_shared<TargetArgs>();
  CLI::App* cmd = app.add_subcommand(
      "target", "Run an NVMe over Fabrics target (NVMe/TCP, NVMe/RDMA) until SIGINT/SIGTERM; SIGHUP reloads --config");
  cmd->add_option("--config", args->config_file,
                  "JSON configuration: ours or nvmetcli's; command-line options add to it (docs/configuration.md)");
  cmd->add_option("--listen", args->listen,
                  "Listen address tcp:ADDR:PORT or rdma:ADDR:PORT, IPv6 as tcp:[ADDR]:PORT; TLS: append ,tls=required or "
                  ",tls=allowed (repeatable)")
      ->default_str(kDefaultListen);
  cmd->add_option("--discovery-port", args->discovery_port,
                  "Extra discovery-only listener port on each listen address (0: none)")
      ->capture_default_str();
  cmd->add_option("--subsystem", args->subsystem, "Subsystem NQN")->default_str(target::kDefaultSubsystemNqn);
  cmd->add_option("--namespace", args->namespaces,
                  "ram:SIZE[,prefault[,huge_pages]] | null:SIZE | file:PATH | blk:/dev/BLOCK | nvme:/dev/ngXnY | "
                  "fault:SPEC?FAULTS (repeatable, NSID order)");
  cmd->add_option("--allow-host", args->allowed_hosts, "Host NQN allowed to connect (repeatable; none: any host)");
  cmd->add_option("--tls-psk", args->tls_psks,
                  "HOSTNQN=KEY: the host's configured TLS PSK, NVMeTLSkey-1:HH:...: or a file holding it (repeatable)");
  cmd->add_option("--block-size", args->block_size, "Logical block size of the namespaces")
      ->check(CLI::IsMember({512u, 4096u}))
      ->capture_default_str();
  cmd->add_option("--cores", args->cores, "CPUs to run reactors on, e.g. 0,2-3 (default: all)");
  cmd->add_option("--serial", args->serial, "Serial number (default: derived from the NQN)");
  cmd->add_option("--model", args->model, "Model number")->capture_default_str();
  cmd->add_option("--in-capsule-size", args->in_capsule_size, "In-capsule data size of I/O queues (bytes, K/M)")
      ->default_str("8192");
  cmd->add_option("--max-io-size", args->max_io_size, "Largest data transfer, MDTS (bytes, K/M)")
      ->default_str("131072");
  cmd->add_option("--queue-depth", args->queue_depth, "Largest queue size a host may connect (MQES + 1)")
      ->capture_default_str();
  cmd->add_option("--max-r2t-commands", args->max_r2t_commands,
                  "NVMe/TCP: commands per connection receiving write data at once; later ones wait for their first "
                  "R2T, where an Abort can withdraw them (0: no limit)")
      ->capture_default_str();
  cmd->add_option("--send-timeout", args->send_timeout_ms,
                  "NVMe/TCP: reset a connection whose sent data stays unacknowledged this long, in ms (a peer that "
                  "stopped reading; 0: kernel default)")
      ->capture_default_str();
  cmd->add_flag("--busy-poll", args->busy_poll, "Spin on the completion queues instead of sleeping");
  cmd->add_option("--adaptive-poll", args->adaptive_poll_us,
                  "Without --busy-poll: after work, poll for up to this many microseconds (self-tuning) before "
                  "sleeping (0: sleep at once, pure interrupt mode)")
      ->check(CLI::Range(0u, target::kMaxAdaptivePollUs))
      ->capture_default_str();
  cmd->add_flag("-v,--verbose", args->verbose, "Debug logs (repeatable)");
  cmd->add_option("--dhchap-key", args->dhchap_keys,
                  "HOSTNQN=DHHC-1:HH:...: the host must authenticate with DH-HMAC-CHAP (repeatable; a --config "
                  "file readable only by you keeps secrets out of the process list)");
  cmd->add_option("--dhchap-ctrl-key", args->dhchap_ctrl_keys,
                  "HOSTNQN=DHHC-1:HH:...: controller secret for bidirectional authentication (repeatable)");
  cmd->add_option("--dhchap-hash", args->dhchap_hashes, "HOSTNQN=sha256,sha384,sha512: hashes allowed (repeatable)");
  cmd->add_option("--dhchap-dhgroup", args->dhchap_dhgroups,
                  "HOSTNQN=null,ffdhe2048,...: DH groups allowed (repeatable)");
  cmd->add_option("--ready-file", args->ready_file, "Write the bound listen addresses here once listening");
  cmd->add_option("--control-socket", args->control_socket,
                  "UNIX socket for `nvmf target-ctl` (mode 0600; \"none\": no socket)")
      ->capture_default_str();
  cmd->add_option("--metrics", args->metrics,
                  "Serve Prometheus metrics over HTTP at tcp:ADDR:PORT/metrics (off by default; \"none\": off)");
  cmd->callback([args, cmd] {
    for (const CLI::Option* o : cmd->get_options())
      if (o->count() > 0) args->given.insert(o->get_name());
    int rc = run_target(*args);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace nvmf::cli
