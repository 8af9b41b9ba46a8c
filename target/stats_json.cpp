#include "target/stats_json.hpp"

#include <chrono>
#include <cstdio>
#include <stdexcept>

#include "target/controller.hpp"
#include "target/registry.hpp"

namespace nvmf::target {

namespace {
using nlohmann::json;

json latency_json(const LatencySnapshot& l) {
  json buckets = json::object();
  for (std::size_t i = 0; i < l.buckets.size(); ++i)
    if (l.buckets[i]) buckets[std::to_string(i)] = l.buckets[i];
  auto us = [&](double q) { return static_cast<double>(l.quantile_ns(q)) / 1000.0; };
  return json{{"count", l.count},
              {"sum_ns", l.sum_ns},
              {"p50_us", us(0.5)},
              {"p99_us", us(0.99)},
              {"p999_us", us(0.999)},
              {"buckets", buckets}};
}

LatencySnapshot latency_from_json(const json& j) {
  LatencySnapshot l;
  l.count = j.at("count").get<std::uint64_t>();
  l.sum_ns = j.at("sum_ns").get<std::uint64_t>();
  for (const auto& [key, value] : j.at("buckets").items()) {
    const unsigned long i = std::stoul(key);
    if (i >= l.buckets.size()) throw std::runtime_error("latency bucket " + key + " out of range");
    l.buckets[i] = value.get<std::uint64_t>();
  }
  return l;
}

json queue_list(const std::vector<Subsystem::StatsReport::Queue>& queues) {
  json out = json::array();
  for (const auto& q : queues) {
    json j = io_snapshot_to_json(q.stats);
    j["cntlid"] = q.cntlid;
    j["qid"] = q.qid;
    out.push_back(std::move(j));
  }
  return out;
}
}  // namespace

std::string status_code_name(std::uint16_t code) {
  if (code == 0xFFFF) return "other statuses";
  return nvme::Status(code).to_string();
}

json io_snapshot_to_json(const IoSnapshot& s) {
  json ops = json::object();
  for (OpClass op : {OpClass::read, OpClass::write, OpClass::other}) {
    const OpSnapshot& o = s.op(op);
    ops[op_class_name(op)] = json{{"commands", o.commands}, {"bytes", o.bytes}, {"latency", latency_json(o.latency)}};
  }
  json errors = json::array();
  for (const auto& [code, n] : s.errors) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%04x", code);
    errors.push_back(json{{"status", hex}, {"text", status_code_name(code)}, {"count", n}});
  }
  return json{{"ops", ops}, {"errors", errors}, {"in_flight", s.in_flight}};
}

IoSnapshot io_snapshot_from_json(const json& j) {
  try {
    IoSnapshot s;
    for (OpClass op : {OpClass::read, OpClass::write, OpClass::other}) {
      const json& o = j.at("ops").at(op_class_name(op));
      OpSnapshot& out = s.ops[static_cast<std::size_t>(op)];
      out.commands = o.at("commands").get<std::uint64_t>();
      out.bytes = o.at("bytes").get<std::uint64_t>();
      out.latency = latency_from_json(o.at("latency"));
    }
    for (const json& e : j.at("errors"))
      s.errors[static_cast<std::uint16_t>(std::stoul(e.at("status").get<std::string>(), nullptr, 16))] +=
          e.at("count").get<std::uint64_t>();
    s.in_flight = j.at("in_flight").get<std::uint64_t>();
    return s;
  } catch (const json::exception& e) {
    throw std::runtime_error(std::string("malformed statistics: ") + e.what());
  } catch (const std::logic_error& e) {  // stoul
    throw std::runtime_error(std::string("malformed statistics: ") + e.what());
  }
}

json stats_to_json(const Registry& registry) {
  json subsystems = json::array();
  for (const auto& sub : registry.subsystems()) {
    const Subsystem::StatsReport r = sub->stats_report();
    json namespaces = json::array();
    for (const auto& [nsid, snap] : r.namespaces) {
      json j = io_snapshot_to_json(snap);
      j["nsid"] = nsid;
      namespaces.push_back(std::move(j));
    }
    std::map<std::uint16_t, std::string> hosts;
    for (const auto& c : sub->controllers()) hosts[c->cntlid()] = c->host_nqn();
    json controllers = json::array();
    for (const auto& [cntlid, snap] : r.controllers) {
      json j = io_snapshot_to_json(snap);
      j["cntlid"] = cntlid;
      if (auto it = hosts.find(cntlid); it != hosts.end()) j["host"] = it->second;
      controllers.push_back(std::move(j));
    }
    subsystems.push_back(json{{"nqn", sub->nqn()},
                              {"total", io_snapshot_to_json(r.total)},
                              {"namespaces", namespaces},
                              {"controllers", controllers},
                              {"queues", queue_list(r.queues)}});
  }
  const auto up = std::chrono::steady_clock::now() - registry.start_time();
  return json{{"uptime_ms", std::chrono::duration_cast<std::chrono::milliseconds>(up).count()},
              {"subsystems", subsystems}};
}

}  // namespace nvmf::target
