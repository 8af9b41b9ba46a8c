// nvmf perf: a load generator in the spirit of spdk_nvme_perf, over the project's own initiator. Short options
// follow spdk_nvme_perf (-q depth, -o I/O size, -w pattern, -M read mix, -r transport ID), so the connection
// options that nvme-cli spells -q/-o are long-only here (--hostnqn, --output-format). -t is the transport, as on
// every other host command; the run time is -T/--time (README: "Option spelling"). -a/-s repeated give several
// paths to one subsystem: the run goes through a multipath set (docs/paths-and-reservations.md).
#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>
#include <vector>

#include "fabric/reactor.hpp"
#include "initiator/multipath.hpp"
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
  std::string policy = "round-robin";
  std::uint32_t adaptive_poll_us = static_cast<std::uint32_t>(fabric::kDefaultAdaptivePoll.count());
};

/// The namespace -N names (default: the first active one), or fail.
const initiator::Namespace& chosen_namespace(const std::vector<initiator::Namespace>& namespaces,
                                             std::uint32_t nsid) {
  if (namespaces.empty()) fail("the subsystem has no active namespace");
  if (!nsid) return namespaces.front();
  for (const auto& ns : namespaces)
    if (ns.nsid == nsid) return ns;
  fail("namespace " + std::to_string(nsid) + " is not active");
}

void finish(const PerfArgs& a, const initiator::PerfResult& result) {
  if (a.connect.json())
    print_json(perf_result_json(a.config, result));
  else
    print_perf_result(a.config, result);
}
}  // namespace

void add_perf_command(CLI::App& app) {
  auto a = std::make_shared<PerfArgs>();
  CLI::App* cmd = app.add_subcommand("perf", "Measure IOPS, bandwidth and latency (spdk_nvme_perf style)");
  add_connect_options(cmd, a->connect, false, Spelling::perf, Paths::several);
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
  cmd->add_option("--adaptive-poll", a->adaptive_poll_us,
                  "Without --busy-poll: after work, poll for up to this many microseconds (self-tuning) before "
                  "sleeping (0: sleep at once, pure interrupt mode)")
      ->check(CLI::Range(0u, 10000u))
      ->capture_default_str();
  cmd->add_option("--rate-iops", a->config.rate_iops,
                  "Pace submissions to this many I/Os per second over all queues (0: as fast as possible)")
      ->capture_default_str();
  cmd->add_option("--policy", a->policy, "Path choice among the best ANA state with several paths")
      ->check(CLI::IsMember({"round-robin", "least-queued"}))
      ->capture_default_str();
  cmd->callback([a] {
    initiator::PerfConfig& c = a->config;
    c.pattern = *initiator::parse_perf_pattern(a->pattern);
    c.time = std::chrono::milliseconds(static_cast<long long>(a->seconds * 1000));
    c.adaptive_poll = std::chrono::microseconds(a->adaptive_poll_us);
    c.region_bytes = a->region_mib << 20;
    try {
      if (!a->cores.empty()) c.cores = fabric::parse_cpu_list(a->cores);
    } catch (const std::invalid_argument& e) {
      fail(e.what());
    }
    if (a->connect.options.subnqn.empty()) fail("--nqn (or subnqn: in --transport-id) is required");
    c.path_policy = *initiator::parse_path_policy(a->policy);
    a->connect.options.io_queue_size = static_cast<std::uint16_t>(std::max<std::uint32_t>(c.queue_depth, 2));
    std::function<void(const initiator::PerfProgress&)> progress;
    if (!a->quiet) progress = print_perf_progress;
    initiator::Error error;
    initiator::PerfResult result;
    std::vector<initiator::ControllerOptions> paths = controller_paths(a->connect);
    if (paths.size() == 1) {
      a->connect.options = paths.front();
      a->connect.options.nr_io_queues = static_cast<std::uint16_t>(c.queues);
      auto ctrl = connect_or_exit(a->connect);
      const initiator::Namespace& ns = chosen_namespace(ctrl->namespaces(), a->nsid);
      result = initiator::run_perf(*ctrl, ns, c, progress, &error);
      if (error) fail("perf: " + error.to_string());
      finish(*a, result);
      ctrl->shutdown();
    } else {
      // The set keeps one I/O queue per path for itself; each worker takes one more on every path.
      for (auto& p : paths) p.nr_io_queues = static_cast<std::uint16_t>(c.queues + 1);
      auto set = initiator::MultipathSet::connect(paths, &error);
      if (!set) fail("failed to connect: " + error.to_string());
      const initiator::Namespace& ns = chosen_namespace(set->controller(0).namespaces(), a->nsid);
      result = initiator::run_perf(*set, ns, c, progress, &error);
      if (error) fail("perf: " + error.to_string());
      finish(*a, result);
      set.reset();  // every path's queue, then its controller (orderly shutdown)
    }
    if (!result.ok()) {
      std::fprintf(stderr, "nvmf perf: %s\n", result.first_error.c_str());
      throw CLI::RuntimeError(1);
    }
  });
}

}  // namespace nvmf::cli
