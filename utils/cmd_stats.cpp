#include "utils/cmd_stats.hpp"

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "target/control_client.hpp"
#include "target/stats_json.hpp"

namespace nvmf::cli {

namespace {
using nlohmann::json;
using target::IoSnapshot;
using target::OpClass;

double mib(std::uint64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }
double us(std::uint64_t ns) { return static_cast<double>(ns) / 1000.0; }

void print_header() {
  std::printf("  %-16s %12s %12s %10s %12s %12s %8s %6s %27s %27s\n", "", "reads", "writes", "other", "read MiB",
              "written MiB", "errors", "queue", "read p50/p99/p99.9 us", "write p50/p99/p99.9 us");
}

std::string percentiles(const target::LatencySnapshot& l) {
  if (l.count == 0) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.0f/%.0f/%.0f", us(l.quantile_ns(0.5)), us(l.quantile_ns(0.99)),
                us(l.quantile_ns(0.999)));
  return buf;
}

/// `in_flight`: false for namespaces, which do not count commands in flight (queues do).
void print_row(const std::string& what, const IoSnapshot& s, std::vector<std::string>& error_lines, bool in_flight = true) {
  std::printf("  %-16s %12llu %12llu %10llu %12.1f %12.1f %8llu %6s %27s %27s\n", what.c_str(),
              static_cast<unsigned long long>(s.op(OpClass::read).commands),
              static_cast<unsigned long long>(s.op(OpClass::write).commands),
              static_cast<unsigned long long>(s.op(OpClass::other).commands), mib(s.op(OpClass::read).bytes),
              mib(s.op(OpClass::write).bytes), static_cast<unsigned long long>(s.error_count()),
              in_flight ? std::to_string(s.in_flight).c_str() : "-", percentiles(s.op(OpClass::read).latency).c_str(),
              percentiles(s.op(OpClass::write).latency).c_str());
  for (const auto& [code, n] : s.errors)
    error_lines.push_back(what + ": " + std::to_string(n) + " x " + target::status_code_name(code));
}

void print_stats(const json& reply) {
  for (const json& sub : reply.at("subsystems")) {
    std::printf("%s\n", sub.at("nqn").get<std::string>().c_str());
    print_header();
    std::vector<std::string> errors;
    print_row("total", target::io_snapshot_from_json(sub.at("total")), errors);
    for (const json& ns : sub.at("namespaces"))
      print_row("ns " + std::to_string(ns.at("nsid").get<unsigned>()), target::io_snapshot_from_json(ns), errors, false);
    for (const json& c : sub.at("controllers"))
      print_row("ctrl " + std::to_string(c.at("cntlid").get<unsigned>()), target::io_snapshot_from_json(c), errors);
    for (const json& q : sub.at("queues"))
      print_row("ctrl " + std::to_string(q.at("cntlid").get<unsigned>()) + " q " + std::to_string(q.at("qid").get<unsigned>()),
                target::io_snapshot_from_json(q), errors);
    for (const auto& e : errors) std::printf("  errors of %s\n", e.c_str());
  }
}
}  // namespace

IoSnapshot stats_delta(const IoSnapshot& now, const IoSnapshot& before) {
  auto sub = [](std::uint64_t a, std::uint64_t b) { return a >= b ? a - b : a; };
  IoSnapshot d = now;
  for (std::size_t o = 0; o < d.ops.size(); ++o) {
    auto& op = d.ops[o];
    const auto& was = before.ops[o];
    op.commands = sub(op.commands, was.commands);
    op.bytes = sub(op.bytes, was.bytes);
    op.latency.sum_ns = sub(op.latency.sum_ns, was.latency.sum_ns);
    op.latency.count = 0;
    for (std::size_t i = 0; i < op.latency.buckets.size(); ++i) {
      op.latency.buckets[i] = sub(op.latency.buckets[i], was.latency.buckets[i]);
      op.latency.count += op.latency.buckets[i];
    }
  }
  for (auto& [code, n] : d.errors)
    if (auto it = before.errors.find(code); it != before.errors.end()) n = sub(n, it->second);
  return d;
}

json fetch_stats(const std::string& socket) {
  json reply = target::control_request(socket, json{{"op", "stats"}});
  if (!reply.value("ok", false)) {
    std::string reason = "refused";
    if (reply.contains("error") && reply["error"].is_object()) reason = reply["error"].value("reason", reason);
    std::fprintf(stderr, "nvmf target-ctl: %s\n", reason.c_str());
    throw CLI::RuntimeError(1);
  }
  reply.erase("ok");
  return reply;
}

void add_stats_commands(CLI::App& ctl, std::function<std::string()> socket) {
  auto output = std::make_shared<std::string>("normal");
  CLI::App* stats = ctl.add_subcommand("stats", "I/O statistics per subsystem, namespace, controller and queue");
  stats->add_option("-o,--output-format", *output, "normal or json")->check(CLI::IsMember({"normal", "json"}));
  stats->callback([socket, output] {
    json reply = fetch_stats(socket());
    if (*output == "json") return (void)std::printf("%s\n", reply.dump(2).c_str());
    try {
      print_stats(reply);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "nvmf target-ctl stats: unexpected reply: %s\n", e.what());
      throw CLI::RuntimeError(1);
    }
  });

  auto interval = std::make_shared<double>(1.0);
  auto iterations = std::make_shared<unsigned>(0);
  CLI::App* top = ctl.add_subcommand("top", "Live view of IOPS, MiB/s, latency and errors per namespace and controller "
                                            "(q quits)");
  top->add_option("-d,--delay", *interval, "Seconds between refreshes")->check(CLI::Range(0.1, 3600.0))->capture_default_str();
  top->add_option("-n,--iterations", *iterations, "Stop after this many refreshes (0: until q)")->capture_default_str();
  top->callback([socket, interval, iterations] {
    if (int rc = run_top(socket(), *interval, *iterations); rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace nvmf::cli
