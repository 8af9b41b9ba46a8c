#include "target/metrics_exposition.hpp"

#include <chrono>
#include <cstdio>
#include <vector>

#include "target/registry.hpp"

namespace nvmf::target {

namespace {

/// Label values escape backslash, double quote and newline (exposition format, "Text format details").
std::string escape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

struct Series {
  std::string labels;  ///< `subsystem="...",nsid="1"`, without braces
  const IoSnapshot* stats;
};

std::string with(const std::string& labels, const std::string& more) {
  return labels.empty() ? more : labels + "," + more;
}

std::string seconds(std::uint64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(ns) / 1e9);
  return buf;
}

/// One level's families: commands, bytes, errors, latency histogram and commands in flight.
/// `in_flight`: whether the level has that gauge (a namespace does not: commands in flight are counted per queue).
void level(std::string& out, const std::string& prefix, const char* what, const std::vector<Series>& series,
           bool in_flight_gauge = true) {
  auto head = [&](const std::string& name, const char* type, const std::string& help) {
    out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  };
  auto line = [&](const std::string& name, const std::string& labels, const std::string& value) {
    out += name + "{" + labels + "} " + value + "\n";
  };
  const std::string commands = prefix + "_commands_total", bytes = prefix + "_bytes_total",
                    errors = prefix + "_errors_total", latency = prefix + "_latency_seconds",
                    in_flight = prefix + "_in_flight_commands";
  head(commands, "counter", std::string("I/O commands completed successfully, per ") + what + " and operation");
  for (const Series& s : series)
    for (OpClass op : {OpClass::read, OpClass::write, OpClass::other})
      line(commands, with(s.labels, std::string("op=\"") + op_class_name(op) + "\""),
           std::to_string(s.stats->op(op).commands));
  head(bytes, "counter", std::string("Bytes read and written by successful commands, per ") + what);
  for (const Series& s : series)
    for (OpClass op : {OpClass::read, OpClass::write})
      line(bytes, with(s.labels, std::string("op=\"") + op_class_name(op) + "\""), std::to_string(s.stats->op(op).bytes));
  head(errors, "counter", std::string("I/O commands failed, per ") + what + " and NVMe status (SCT << 8 | SC)");
  for (const Series& s : series)
    for (const auto& [code, n] : s.stats->errors) {
      char status[24];
      std::snprintf(status, sizeof status, "status=\"0x%04x\"", code);
      line(errors, with(s.labels, status), std::to_string(n));
    }
  head(latency, "histogram", std::string("Target-side latency of successful commands, per ") + what + " and operation");
  for (const Series& s : series)
    for (OpClass op : {OpClass::read, OpClass::write, OpClass::other}) {
      const LatencySnapshot& l = s.stats->op(op).latency;
      const std::string labels = with(s.labels, std::string("op=\"") + op_class_name(op) + "\"");
      // Every fourth fine bucket ends at a power of two of nanoseconds: 2^10 ns (about 1 us) to 2^35 ns (34 s).
      std::uint64_t cumulative = 0;
      std::size_t i = 0;
      for (unsigned p = 10; p <= 35; ++p) {
        const std::size_t last = 4 * (p - 1) - 1;  // the fine bucket whose upper bound is 2^p - 1
        for (; i <= last; ++i) cumulative += l.buckets[i];
        line(latency + "_bucket", with(labels, "le=\"" + seconds(std::uint64_t(1) << p) + "\""), std::to_string(cumulative));
      }
      for (; i < l.buckets.size(); ++i) cumulative += l.buckets[i];
      line(latency + "_bucket", with(labels, "le=\"+Inf\""), std::to_string(cumulative));
      line(latency + "_sum", labels, seconds(l.sum_ns));
      line(latency + "_count", labels, std::to_string(cumulative));
    }
  if (!in_flight_gauge) return;
  head(in_flight, "gauge", std::string("I/O commands received and not yet completed, per ") + what);
  for (const Series& s : series) line(in_flight, s.labels, std::to_string(s.stats->in_flight));
}

}  // namespace

std::string metrics_exposition(const Registry& registry) {
  struct Sub {
    std::string label;
    Subsystem::StatsReport report;
  };
  std::vector<Sub> subs;
  for (const auto& s : registry.subsystems()) subs.push_back({"subsystem=\"" + escape(s->nqn()) + "\"", s->stats_report()});

  std::vector<Series> by_subsystem, by_namespace, by_controller, by_queue;
  for (const Sub& s : subs) {
    by_subsystem.push_back({s.label, &s.report.total});
    for (const auto& [nsid, snap] : s.report.namespaces)
      by_namespace.push_back({s.label + ",nsid=\"" + std::to_string(nsid) + "\"", &snap});
    for (const auto& [cntlid, snap] : s.report.controllers)
      by_controller.push_back({s.label + ",cntlid=\"" + std::to_string(cntlid) + "\"", &snap});
    for (const auto& q : s.report.queues)
      by_queue.push_back(
          {s.label + ",cntlid=\"" + std::to_string(q.cntlid) + "\",qid=\"" + std::to_string(q.qid) + "\"", &q.stats});
  }
  std::string out;
  level(out, "nvmf_target_subsystem", "subsystem", by_subsystem);
  level(out, "nvmf_target_namespace", "namespace", by_namespace, false);
  level(out, "nvmf_target_controller", "controller", by_controller);
  level(out, "nvmf_target_queue", "I/O queue", by_queue);
  const auto up = std::chrono::steady_clock::now() - registry.start_time();
  out += "# HELP nvmf_target_uptime_seconds Seconds since the target started\n# TYPE nvmf_target_uptime_seconds gauge\n";
  out += "nvmf_target_uptime_seconds " + seconds(static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(up).count())) + "\n";
  return out;
}

}  // namespace nvmf::target
