// nvmf demo: the main job on an embedded default. Starts a target in-process on 127.0.0.1 (ephemeral port) with
// a RAM namespace, attaches the project's own initiator over NVMe/TCP, runs a verified perf job (write the
// pattern over the namespace, then read it back at random offsets checking every block) and prints the figures.
// Any I/O error or mismatch: exit 1.
#include <cstdio>
#include <exception>
#include <memory>

#include "initiator/workload/perf_runner.hpp"
#include "target/target.hpp"
#include "utils/cli_common.hpp"
#include "utils/commands.hpp"
#include "utils/perf_report.hpp"

namespace nvmf::cli {

namespace {
constexpr const char* kDemoNqn = "nqn.2024-01.io.nvmf:demo";

struct DemoArgs {
  std::uint64_t size_mib = 256;
  double seconds = 4;
  std::uint32_t io_size = 4096;
  std::uint32_t queue_depth = 32;
  unsigned queues = 1;
  std::uint32_t block_size = 512;
  bool digests = false;
  std::string output_format = "normal";
};

void run_demo(const DemoArgs& a) {
  target::TargetConfig tc;
  tc.listeners = {target::parse_listen_address("tcp:127.0.0.1:0")};
  tc.discovery_port = 0;  // no fixed port: the demo must run next to anything else
  tc.log_level = log::Level::warn;
  target::SubsystemConfig sc;
  sc.nqn = kDemoNqn;
  sc.namespaces = {target::NamespaceConfig{target::BackendKind::ram, a.size_mib << 20, "", a.block_size, 1}};
  tc.subsystems = {sc};

  std::unique_ptr<target::Target> tgt;
  try {
    tgt = std::make_unique<target::Target>(tc);
    tgt->start();
  } catch (const std::exception& e) {
    fail(std::string("embedded target: ") + e.what());
  }
  const fabric::ListenAddress where = tgt->listen_addresses().front();
  std::fprintf(stderr, "target: %s, subsystem %s, %llu MiB RAM namespace (%u-byte blocks)\n",
               where.to_string().c_str(), kDemoNqn, static_cast<unsigned long long>(a.size_mib), a.block_size);

  ConnectArgs connect;
  connect.options.traddr = where.traddr;
  connect.options.trsvcid = where.trsvcid;
  connect.options.subnqn = kDemoNqn;
  connect.options.nr_io_queues = static_cast<std::uint16_t>(a.queues);
  connect.options.io_queue_size = static_cast<std::uint16_t>(std::max<std::uint32_t>(a.queue_depth, 2));
  connect.options.header_digest = a.digests;
  connect.options.data_digest = a.digests;
  auto ctrl = connect_or_exit(connect);
  if (ctrl->namespaces().empty()) fail("the embedded target exposes no namespace");
  std::fprintf(stderr, "initiator: controller %u, %u I/O queue(s) of %u, max transfer %u bytes\n", ctrl->cntlid(),
               a.queues, a.queue_depth, ctrl->max_transfer_size());

  initiator::PerfConfig c;
  c.pattern = initiator::PerfPattern::randread;
  c.io_size = a.io_size;
  c.queue_depth = a.queue_depth;
  c.queues = a.queues;
  c.verify = true;
  c.time = std::chrono::milliseconds(static_cast<long long>(a.seconds * 1000));
  initiator::Error error;
  const bool json = a.output_format == "json";
  std::function<void(const initiator::PerfProgress&)> progress;
  if (!json) progress = print_perf_progress;
  initiator::PerfResult result = initiator::run_perf(*ctrl, ctrl->namespaces().front(), c, progress, &error);
  if (error) fail("demo: " + error.to_string());
  initiator::Error shutdown = ctrl->shutdown();
  ctrl.reset();
  tgt->stop();
  if (json)
    print_json(perf_result_json(c, result));
  else
    print_perf_result(c, result);
  if (shutdown) fail("controller shutdown: " + shutdown.to_string());
  if (!result.ok()) fail("demo failed: " + result.first_error);
}
}  // namespace

void add_demo_command(CLI::App& app) {
  auto a = std::make_shared<DemoArgs>();
  CLI::App* cmd = app.add_subcommand(
      "demo", "Embedded target + initiator on 127.0.0.1: verified write/read-back, IOPS and latency");
  cmd->add_option("--size", a->size_mib, "RAM namespace size in MiB")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--time", a->seconds, "Seconds of I/O (the write pass takes at most half)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--io-size", a->io_size, "I/O size in bytes")->capture_default_str();
  cmd->add_option("--queue-depth", a->queue_depth, "Outstanding I/Os per queue")->capture_default_str();
  cmd->add_option("--queues", a->queues, "I/O queues, one worker thread each")->capture_default_str();
  cmd->add_option("--block-size", a->block_size, "Namespace block size")
      ->check(CLI::IsMember({512, 4096}))
      ->capture_default_str();
  cmd->add_flag("--digests", a->digests, "Enable NVMe/TCP header and data digests");
  add_output_option(cmd, a->output_format);
  cmd->callback([a] { run_demo(*a); });
}

}  // namespace nvmf::cli
