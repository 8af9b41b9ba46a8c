// nvmf perf: a load generator in the spirit of spdk_nvme_perf, over the project's own initiator. Short options
// follow spdk_nvme_perf (-q depth, -o I/O size, -w pattern, -M read mix, -r transport ID), so the connection
// options that nvme-cli spells -q/-o are long-only here (--hostnqn, --output-format). -t is the transport, as on
// every other host command; the run time is -T/--time (README: "Option spelling").
#include <cstdio>
#include <memory>

#include "fabric/reactor.hpp"
#include "initiator/workload/perf_runner.hpp"
#include "utils/cli_common.hpp"
#include "utils/commands.hpp"
#include "utils/perf_report.hpp"

namespace nvmf::cli {

namespace {
struct PerfArgs {
  ConnectArgs connect;
  initiator::PerfConfig config;
  std::string pattern = "randread";
  double seconds = 10;
  std::string cores;
  std::uint32_t nsid = 0;
  std::uint64_t region_mib = 0;
  bool quiet = false;
};
}  // namespace

void add_perf_command(CLI::App& app) {
  auto a = std::make_shared<PerfArgs>();
  CLI::App* cmd = app.add_subcommand("perf", "Measure IOPS, bandwidth and latency (spdk_nvme_perf style)");
  add_connect_options(cmd, a->connect, false, Spelling::perf);
  cmd->add_option("-q,--queue-depth", a->config.queue_depth, "Outstanding I/Os per queue")->capture_default_str();
  cmd->add_option("-o,--io-size", a->config.io_size, "I/O size in bytes")->capture_default_str();
  cmd->add_option("-w,--pattern", a->pattern, "read|write|randread|randwrite|rw|randrw")
      ->check(CLI::IsMember({"read", "write", "randread", "randwrite", "rw", "randrw"}))
      ->capture_default_str();
  cmd->add_option("-M,--rwmixread", a->config.rwmixread, "Percentage of reads for rw/randrw")
      ->check(CLI::Range(0, 100))
      ->capture_default_str();
  cmd->add_option("-T,--time", a->seconds, "Run time in seconds")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("-P,--queues,--threads", a->config.queues, "Queues, one worker thread each")->capture_default_str();
  cmd->add_option("--cores", a->cores, "CPUs to pin workers to, e.g. 0,2-3");
  cmd->add_flag("--verify", a->config.verify,
                "Write a self-checking pattern, read it back and check every block; mismatches fail the run");
  cmd->add_option("-N,--namespace-id", a->nsid, "Namespace (default: the first active one)");
  cmd->add_option("--region-size", a->region_mib, "MiB of the namespace to use (default: all)");
  cmd->add_option("--seed", a->config.seed, "Seed for offsets and the verify pattern (default: from the clock)");
  cmd->add_flag("--quiet", a->quiet, "No live line each second");
  cmd->add_flag("--busy-poll", a->config.busy_poll, "Workers spin on their completion queues instead of sleeping");
  cmd->callback([a] {
    initiator::PerfConfig& c = a->config;
    c.pattern = *initiator::parse_perf_pattern(a->pattern);
    c.time = std::chrono::milliseconds(static_cast<long long>(a->seconds * 1000));
    c.region_bytes = a->region_mib << 20;
    try {
      if (!a->cores.empty()) c.cores = fabric::parse_cpu_list(a->cores);
    } catch (const std::invalid_argument& e) {
      fail(e.what());
    }
    if (a->connect.options.subnqn.empty()) fail("--nqn (or subnqn: in --transport-id) is required");
    a->connect.options.nr_io_queues = static_cast<std::uint16_t>(c.queues);
    a->connect.options.io_queue_size = static_cast<std::uint16_t>(std::max<std::uint32_t>(c.queue_depth, 2));
    auto ctrl = connect_or_exit(a->connect);
    if (ctrl->namespaces().empty()) fail("the subsystem has no active namespace");
    const initiator::Namespace* ns = a->nsid ? ctrl->find_namespace(a->nsid) : &ctrl->namespaces().front();
    if (!ns) fail("namespace " + std::to_string(a->nsid) + " is not active");

    initiator::Error error;
    std::function<void(const initiator::PerfProgress&)> progress;
    if (!a->quiet) progress = print_perf_progress;
    initiator::PerfResult result = initiator::run_perf(*ctrl, *ns, c, progress, &error);
    if (error) fail("perf: " + error.to_string());
    if (a->connect.json())
      print_json(perf_result_json(c, result));
    else
      print_perf_result(c, result);
    ctrl->shutdown();
    if (!result.ok()) {
      std::fprintf(stderr, "nvmf perf: %s\n", result.first_error.c_str());
      throw CLI::RuntimeError(1);
    }
  });
}

}  // namespace nvmf::cli
