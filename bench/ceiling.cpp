// nvmf-ceiling: what one io_uring TCP connection can do with NVMe/TCP-shaped request/response traffic between
// two cores, with nothing of NVMe in it. bench/run.sh prints each `nvmf perf` case as a fraction of this bound.
//
//   nvmf-ceiling server --listen 127.0.0.1:4421 --cpu 0 [--poll]
//   nvmf-ceiling client --connect 127.0.0.1:4421 --cpu 1 --request-size 72 --response-size 4120
//                       --queue-depth 32 --time 5 [--poll] [-o json]
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <csignal>
#include <cstdio>
#include <exception>
#include <iostream>
#include <string>

#include "bench/ceiling/client.hpp"
#include "bench/ceiling/server.hpp"

namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

using nvmf::bench::ClientResult;

double per_million(double seconds, std::uint64_t count) {
  return count ? seconds * 1e6 / static_cast<double>(count) : 0.0;
}

nlohmann::ordered_json to_json(const ClientResult& r, const nvmf::bench::ClientOptions& o, const char* mode) {
  using json = nlohmann::ordered_json;
  auto us = [](double ns) { return ns / 1000.0; };
  const auto& h = r.latency;
  json histogram = json::array();
  h.for_each_bucket([&](std::uint64_t le_ns, std::uint64_t count) {
    histogram.push_back({{"le_us", us(static_cast<double>(le_ns))}, {"count", count}});
  });
  double server_s = static_cast<double>(r.server.user_us + r.server.system_us) / 1e6;
  json workload = {{"request_size", o.shape.request_size},
                   {"response_size", o.shape.response_size},
                   {"queue_depth", o.queue_depth},
                   {"time_s", o.seconds},
                   {"payload_size", o.payload_size}};
  if (o.shape_percent < 100)
    workload["mix"] = {{"percent", o.shape_percent},
                       {"other_request_size", o.other_shape.request_size},
                       {"other_response_size", o.other_shape.response_size}};
  return {
      {"tool", "nvmf-ceiling"},
      {"mode", mode},
      {"ring_setup", r.ring_setup},
      {"workload", workload},
      {"ios", r.completed},
      {"seconds", r.elapsed_s},
      {"iops", r.elapsed_s > 0 ? static_cast<double>(r.completed) / r.elapsed_s : 0.0},
      {"mib_per_second", r.elapsed_s > 0 ? static_cast<double>(r.payload_bytes) / r.elapsed_s / (1024.0 * 1024.0) : 0.0},
      {"latency_us",
       {{"mean", us(h.mean_ns())},
        {"p50", us(static_cast<double>(h.percentile_ns(0.50)))},
        {"p90", us(static_cast<double>(h.percentile_ns(0.90)))},
        {"p99", us(static_cast<double>(h.percentile_ns(0.99)))},
        {"p99_9", us(static_cast<double>(h.percentile_ns(0.999)))},
        {"min", us(static_cast<double>(h.min_ns()))},
        {"max", us(static_cast<double>(h.max_ns()))}}},
      {"histogram", histogram},
      {"cpu",
       {{"client_s", r.client_cpu.seconds()},
        {"server_s", server_s},
        {"server_requests", r.server.requests},
        {"client_s_per_mio", per_million(r.client_cpu.seconds(), r.completed)},
        {"server_s_per_mio", per_million(server_s, r.server.requests)}}},
  };
}

void print_text(const nlohmann::ordered_json& j) {
  const auto& l = j["latency_us"];
  const auto& c = j["cpu"];
  std::printf("mode %s (%s), qd %u, %llu requests in %.2f s\n", j["mode"].get<std::string>().c_str(),
              j["ring_setup"].get<std::string>().c_str(), j["workload"]["queue_depth"].get<unsigned>(),
              static_cast<unsigned long long>(j["ios"].get<std::uint64_t>()), j["seconds"].get<double>());
  std::printf("IOPS %.0f  MiB/s %.1f\n", j["iops"].get<double>(), j["mib_per_second"].get<double>());
  std::printf("latency us: mean %.1f  p50 %.1f  p99 %.1f  p99.9 %.1f  min %.1f  max %.1f\n", l["mean"].get<double>(),
              l["p50"].get<double>(), l["p99"].get<double>(), l["p99_9"].get<double>(), l["min"].get<double>(),
              l["max"].get<double>());
  std::printf("CPU s per million requests: client %.3f  server %.3f\n", c["client_s_per_mio"].get<double>(),
              c["server_s_per_mio"].get<double>());
}

}  // namespace

int main(int argc, char** argv) {
  using namespace nvmf::bench;
  CLI::App app{"io_uring TCP request/response ceiling for NVMe/TCP-shaped traffic"};
  app.require_subcommand(1);

  std::string address;
  int cpu = -1;
  bool poll = false;
  std::string task_run = "defer";
  auto add_common = [&](CLI::App* sub) {
    sub->add_option("--cpu", cpu, "Pin to this CPU");
    sub->add_flag("--poll", poll, "Busy-poll the completion queue instead of sleeping in io_uring_enter");
    sub->add_option("--taskrun", task_run, "io_uring task-work mode: defer (DEFER_TASKRUN) or coop (COOP_TASKRUN)")
        ->check(CLI::IsMember({"defer", "coop"}));
  };

  auto* server = app.add_subcommand("server", "Answer requests, one connection at a time, until SIGINT/SIGTERM");
  server->add_option("--listen", address, "HOST:PORT")->required();
  add_common(server);
  std::size_t payload_memory = 0;
  server->add_option("--payload-memory", payload_memory,
                     "Copy request payloads into, and send response payloads from, random 4 KiB-aligned offsets "
                     "of this many bytes of committed memory (suffixes K, M, G): the ceiling of a RAM namespace")
      ->transform(CLI::AsSizeValue(false));

  ClientOptions copt;
  std::string output = "text";
  auto* client = app.add_subcommand("client", "Keep --queue-depth requests in flight for --time seconds");
  client->add_option("--connect", address, "HOST:PORT")->required();
  add_common(client);
  client->add_option("--request-size", copt.shape.request_size, "Request bytes on the wire, header included")
      ->required();
  client->add_option("--response-size", copt.shape.response_size, "Response bytes on the wire, header included")
      ->required();
  client->add_option("--mix-percent", copt.shape_percent, "Percent of requests with the shape above (default 100)")
      ->check(CLI::Range(0, 100));
  client->add_option("--other-request-size", copt.other_shape.request_size, "Request bytes for the rest");
  client->add_option("--other-response-size", copt.other_shape.response_size, "Response bytes for the rest");
  client->add_option("--queue-depth", copt.queue_depth, "Requests in flight")->required();
  client->add_option("--time", copt.seconds, "Seconds of load")->required();
  client->add_option("--payload-size", copt.payload_size,
                     "Bytes per request counted in MiB/s (default: request + response size)");
  client->add_option("-o,--output", output, "text or json")->check(CLI::IsMember({"text", "json"}));

  CLI11_PARSE(app, argc, argv);
  try {
    pin_to_cpu(cpu);
    WaitMode mode = poll ? WaitMode::poll : WaitMode::interrupt;
    TaskRun tr = task_run == "coop" ? TaskRun::coop : TaskRun::defer;
    const char* mode_name = poll ? "poll" : "interrupt";
    if (server->parsed()) {
      std::signal(SIGINT, on_signal);
      std::signal(SIGTERM, on_signal);
      ServerOptions sopt{parse_address(address), mode, tr};
      sopt.payload_memory = payload_memory;
      CeilingServer s(sopt);
      std::fprintf(stderr, "nvmf-ceiling server: listening on %s (port %u), %s mode (%s), payloads %s\n",
                   address.c_str(), s.port(), mode_name, s.ring().setup().c_str(),
                   payload_memory ? ("in " + std::to_string(payload_memory) + " bytes of memory").c_str()
                                  : "from one buffer");
      s.run(g_stop);
      return 0;
    }
    copt.server = parse_address(address);
    copt.mode = mode;
    copt.task_run = tr;
    CeilingClient c(copt);
    nlohmann::ordered_json j = to_json(c.run(), copt, mode_name);
    if (output == "json")
      std::cout << j.dump(2) << "\n";
    else
      print_text(j);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nvmf-ceiling: %s\n", e.what());
    return 1;
  }
}
