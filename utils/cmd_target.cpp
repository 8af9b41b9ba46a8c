#include "utils/cmd_target.hpp"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "fabric/log.hpp"
#include "fabric/reactor.hpp"
#include "target/target.hpp"

namespace nvmf::cli {

namespace {

struct TargetArgs {
  std::vector<std::string> listen{"tcp:127.0.0.1:4420"};
  std::uint16_t discovery_port = 8009;
  std::string subsystem;
  std::vector<std::string> namespaces;
  std::vector<std::string> allowed_hosts;
  std::uint32_t block_size = 512;
  std::string cores;
  std::string serial;
  std::string model = target::kDefaultModel;
  std::string in_capsule_size;
  std::string max_io_size;
  std::uint16_t queue_depth = 128;
  bool busy_poll = false;
  int verbose = 0;
  std::string ready_file;
};

/// Turns a parse or validation failure into CLI11's error for `option`, before anything starts.
template <typename Fn>
auto checked(const std::string& option, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const std::invalid_argument& e) {
    throw CLI::ValidationError(option, e.what());
  }
}

target::TargetConfig build_config(const TargetArgs& a) {
  target::TargetConfig c;
  for (const auto& l : a.listen) c.listeners.push_back(checked("--listen", [&] { return target::parse_listen_address(l); }));
  c.discovery_port = a.discovery_port;
  target::SubsystemConfig s;
  s.nqn = a.subsystem;
  s.serial = a.serial;
  s.model = a.model;
  s.allowed_hosts = a.allowed_hosts;
  if (a.namespaces.empty())
    throw CLI::ValidationError("--namespace", "at least one namespace is needed (ram:SIZE, null:SIZE or file:PATH)");
  for (const auto& n : a.namespaces)
    s.namespaces.push_back(checked("--namespace", [&] { return target::parse_namespace(n, a.block_size); }));
  c.subsystems.push_back(std::move(s));
  if (!a.cores.empty()) c.cores = checked("--cores", [&] { return fabric::parse_cpu_list(a.cores); });
  if (!a.in_capsule_size.empty())
    c.limits.in_capsule_data_size =
        static_cast<std::uint32_t>(checked("--in-capsule-size", [&] { return target::parse_size(a.in_capsule_size); }));
  if (!a.max_io_size.empty())
    c.limits.max_io_size =
        static_cast<std::uint32_t>(checked("--max-io-size", [&] { return target::parse_size(a.max_io_size); }));
  c.limits.max_queue_depth = a.queue_depth;
  c.busy_poll = a.busy_poll;
  c.log_level = a.verbose > 0 ? log::Level::debug : log::Level::info;
  try {
    c.validate();
  } catch (const std::invalid_argument& e) {
    // validate() names configuration fields; name the option that set it instead.
    static const std::pair<const char*, const char*> kOptions[] = {
        {"listeners", "--listen"},           {".nqn", "--subsystem"},
        {".serial", "--serial"},             {".model", "--model"},
        {".allowed_hosts", "--allow-host"},  {".namespaces", "--namespace"},
        {"max_io_size", "--max-io-size"},    {"in_capsule_data_size", "--in-capsule-size"},
        {"max_queue_depth", "--queue-depth"}, {"cores", "--cores"}};
    const std::string what = e.what();
    std::string option = "configuration";
    for (const auto& [field, name] : kOptions)
      if (what.find(field) != std::string::npos && what.find(field) < what.find(':')) {
        option = name;
        break;
      }
    throw CLI::ValidationError(option, what);
  }
  return c;
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

int run_target(const TargetArgs& args) {
  target::TargetConfig config = build_config(args);
  // Block the signals before any reactor thread exists, so only sigwait below receives them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  std::unique_ptr<target::Target> t;
  try {
    t = std::make_unique<target::Target>(std::move(config));
    t->start();
    if (!args.ready_file.empty()) write_ready_file(args.ready_file, t->listen_addresses());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nvmf target: %s\n", e.what());
    return 1;
  }
  int sig = 0;
  sigwait(&set, &sig);
  NVMF_LOG(info, "received %s, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
  t->stop();
  if (!args.ready_file.empty()) ::unlink(args.ready_file.c_str());
  return 0;
}

}  // namespace

void add_target_command(CLI::App& app) {
  auto args = std::make_shared<TargetArgs>();
  CLI::App* cmd = app.add_subcommand("target", "Run an NVMe over Fabrics target (NVMe/TCP) until SIGINT/SIGTERM");
  cmd->add_option("--listen", args->listen, "Listen address tcp:ADDR:PORT, IPv6 as tcp:[ADDR]:PORT (repeatable)")
      ->capture_default_str();
  cmd->add_option("--discovery-port", args->discovery_port,
                  "Extra discovery-only listener port on each listen address (0: none)")
      ->capture_default_str();
  cmd->add_option("--subsystem", args->subsystem, "Subsystem NQN")->default_str(target::kDefaultSubsystemNqn);
  cmd->add_option("--namespace", args->namespaces, "ram:SIZE | null:SIZE | file:PATH (repeatable, NSID order)");
  cmd->add_option("--allow-host", args->allowed_hosts, "Host NQN allowed to connect (repeatable; none: any host)");
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
  cmd->add_flag("--busy-poll", args->busy_poll, "Spin on the completion queues instead of sleeping");
  cmd->add_flag("-v,--verbose", args->verbose, "Debug logs (repeatable)");
  cmd->add_option("--ready-file", args->ready_file, "Write the bound listen addresses here once listening");
  cmd->callback([args] {
    int rc = run_target(*args);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace nvmf::cli
