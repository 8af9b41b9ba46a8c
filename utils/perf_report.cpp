#include "utils/perf_report.hpp"

#include <cstdio>

namespace nvmf::cli {

using initiator::PerfConfig;
using initiator::PerfPhaseResult;
using initiator::PerfResult;

namespace {
double us(double ns) { return ns / 1000.0; }

nlohmann::ordered_json latency_json(const PerfPhaseResult& p) {
  const auto& h = p.latency;
  return {{"mean", us(h.mean())},
          {"min", us(static_cast<double>(h.min()))},
          {"max", us(static_cast<double>(h.max()))},
          {"p50", us(static_cast<double>(h.percentile(50)))},
          {"p90", us(static_cast<double>(h.percentile(90)))},
          {"p99", us(static_cast<double>(h.percentile(99)))},
          {"p99_9", us(static_cast<double>(h.percentile(99.9)))}};
}

// Non-empty buckets in increasing order, each with its upper edge: what bench/plot.py folds into CDFs.
nlohmann::ordered_json histogram_json(const PerfPhaseResult& p) {
  nlohmann::ordered_json buckets = nlohmann::ordered_json::array();
  for (unsigned i = 0; i < initiator::LatencyHistogram::kBuckets; ++i) {
    if (std::uint64_t n = p.latency.bucket_count(i))
      buckets.push_back({{"le_us", us(static_cast<double>(initiator::LatencyHistogram::bucket_upper(i)))}, {"count", n}});
  }
  return buckets;
}
}  // namespace

void print_perf_progress(const initiator::PerfProgress& p) {
  std::fprintf(stderr, "[%5.1fs] %-11s %12.0f IOPS %10.2f MiB/s\n", p.elapsed_seconds, p.phase.c_str(), p.iops,
               p.mib_per_second);
}

nlohmann::ordered_json perf_result_json(const PerfConfig& c, const PerfResult& r) {
  nlohmann::ordered_json phases = nlohmann::ordered_json::array();
  for (const auto& p : r.phases) {
    phases.push_back({{"name", p.name},
                      {"ios", p.ios},
                      {"reads", p.reads},
                      {"writes", p.writes},
                      {"bytes", p.bytes},
                      {"seconds", p.seconds},
                      {"iops", p.iops()},
                      {"mib_per_second", p.mib_per_second()},
                      {"latency_us", latency_json(p)},
                      {"histogram", histogram_json(p)}});
  }
  nlohmann::ordered_json out = {{"config",
           {{"pattern", to_string(c.pattern)},
            {"io_size", c.io_size},
            {"queue_depth", c.queue_depth},
            {"rwmixread", c.rwmixread},
            {"time_seconds", std::chrono::duration<double>(c.time).count()},
            {"queues", c.queues},
            {"verify", c.verify},
            {"busy_poll", c.busy_poll},
            {"adaptive_poll_us", c.adaptive_poll.count()},
            {"rate_iops", c.rate_iops},
            {"seed", r.seed}}},
          {"phases", phases},
          {"io_errors", r.io_errors},
          {"verify_errors", r.verify_errors},
          {"error", r.first_error},
          {"ok", r.ok()}};
  if (!r.path_ios.empty()) {
    out["config"]["path_policy"] = to_string(c.path_policy);
    out["path_ios"] = r.path_ios;
    out["path_retries"] = r.path_retries;
  }
  return out;
}

void print_perf_result(const PerfConfig& c, const PerfResult& r) {
  std::printf("\n%s, %u-byte I/O, queue depth %u, %u queue(s)%s\n", to_string(c.pattern), c.io_size, c.queue_depth,
              c.queues, c.verify ? ", verified" : "");
  std::printf("%-12s %12s %10s %10s %10s %10s %10s %10s %10s %10s\n", "phase", "IOPS", "MiB/s", "mean(us)", "min",
              "max", "p50", "p90", "p99", "p99.9");
  for (const auto& p : r.phases) {
    const auto& h = p.latency;
    std::printf("%-12s %12.0f %10.2f %10.2f %10.2f %10.2f %10.2f %10.2f %10.2f %10.2f\n", p.name.c_str(), p.iops(),
                p.mib_per_second(), us(h.mean()), us(static_cast<double>(h.min())), us(static_cast<double>(h.max())),
                us(static_cast<double>(h.percentile(50))), us(static_cast<double>(h.percentile(90))),
                us(static_cast<double>(h.percentile(99))), us(static_cast<double>(h.percentile(99.9))));
  }
  if (c.verify && r.ok()) {
    std::uint64_t verified = 0;
    for (const auto& p : r.phases) verified += p.reads;
    std::printf("verify: %llu reads checked, 0 mismatches\n", static_cast<unsigned long long>(verified));
  }
  if (!r.path_ios.empty()) {
    std::printf("paths (%s):", to_string(c.path_policy));
    for (std::size_t i = 0; i < r.path_ios.size(); ++i)
      std::printf(" %zu: %llu I/Os%s", i + 1, static_cast<unsigned long long>(r.path_ios[i]),
                  i + 1 < r.path_ios.size() ? "," : "");
    std::printf("; %llu retried on another path\n", static_cast<unsigned long long>(r.path_retries));
  }
  if (!r.ok())
    std::printf("FAILED: %llu I/O error(s), %llu verify mismatch(es): %s\n",
                static_cast<unsigned long long>(r.io_errors), static_cast<unsigned long long>(r.verify_errors),
                r.first_error.c_str());
}

}  // namespace nvmf::cli
