#include "target/control_requests.hpp"

#include "target/config_json.hpp"
#include "target/controller.hpp"
#include "target/json_cursor.hpp"
#include "target/stats_json.hpp"
#include "target/target.hpp"

namespace nvmf::target {

namespace {
using nlohmann::json;

const char* state_name(ControllerState s) {
  switch (s) {
    case ControllerState::disabled: return "disabled";
    case ControllerState::ready: return "ready";
    case ControllerState::fatal: return "fatal";
    case ControllerState::shutting_down: return "shutting-down";
    case ControllerState::shut_down: return "shut-down";
  }
  return "?";
}

json controller_json(const Controller& c) {
  json queues = json::array();
  for (const auto& [qid, depth] : c.io_queues()) queues.push_back(json{{"qid", qid}, {"depth", depth}});
  char hostid[40];
  const auto& id = c.host().id;
  std::snprintf(hostid, sizeof hostid, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", id[0],
                id[1], id[2], id[3], id[4], id[5], id[6], id[7], id[8], id[9], id[10], id[11], id[12], id[13], id[14],
                id[15]);
  return json{{"cntlid", c.cntlid()},       {"host", c.host_nqn()},          {"hostid", hostid},
              {"peer", c.host().peer_address}, {"portid", c.host().portid}, {"kato_ms", c.kato_ms()},
              {"state", state_name(c.state())}, {"io_queues", queues}};
}

json list(Target& target) {
  json out = json::object();
  json subsystems = json::array();
  for (const auto& s : target.current_config().subsystems) subsystems.push_back(subsystem_to_json(s));
  out["subsystems"] = subsystems;
  json ports = json::array();
  for (const auto& p : target.registry()->ports()) {
    json port{{"portid", p.portid}, {"address", p.address.to_string()}, {"serves_nvm", p.serves_nvm}};
    if (!p.only.empty()) port["subsystems"] = p.only;
    const auto ana = target.registry()->ana().port(p.portid);  // groups set on the port; the rest are optimized
    for (std::uint32_t grpid : ana->configured_groups())
      port["ana_groups"].push_back(json{{"grpid", grpid}, {"state", ana_state_name(ana->state(grpid))}});
    ports.push_back(port);
  }
  out["ports"] = ports;
  json referrals = json::array();
  for (const auto& r : target.registry()->referrals())
    referrals.push_back(json{{"address", r.address.to_string()}, {"portid", r.portid}});
  out["referrals"] = referrals;
  out["generation"] = target.registry()->generation();
  return out;
}

json list_controllers(Target& target) {
  json out = json::array();
  auto add = [&](const std::shared_ptr<Subsystem>& s) {
    json ctrls = json::array();
    for (const auto& c : s->controllers()) ctrls.push_back(controller_json(*c));
    out.push_back(json{{"nqn", s->nqn()}, {"controllers", ctrls}});
  };
  add(target.registry()->discovery());
  for (const auto& s : target.registry()->subsystems()) add(s);
  return json{{"subsystems", out}};
}

json dispatch(Target& target, const JsonCursor& req) {
  const std::string op = req.required("op").string();
  auto nqn = [&] { return req.required("nqn").string(); };
  auto address = [&](const char* key) { return parse_address_json(req.required(key).json(), req[key].pointer()); };
  if (op == "list") return list(target);
  if (op == "list-controllers") return list_controllers(target);
  if (op == "stats") return stats_to_json(*target.registry());
  if (op == "save-config") return json{{"config", to_json(target.current_config())}};
  if (op == "reload") return json{{"changes", target.reload()}};
  if (op == "add-subsystem") {
    target.add_subsystem(parse_subsystem_json(req.required("subsystem").json(), "/subsystem"));
    return json::object();
  }
  if (op == "remove-subsystem") return target.remove_subsystem(nqn()), json::object();
  if (op == "add-ns") {
    const std::string subsystem = nqn();
    return json{{"nsid", target.add_namespace(subsystem, parse_namespace_json(req.required("namespace").json(), "/namespace"))}};
  }
  if (op == "remove-ns" || op == "resize-ns") {
    const std::string subsystem = nqn();
    const auto nsid = static_cast<std::uint32_t>(req.required("nsid").number(1, kMaxNsid));
    if (op == "remove-ns") return target.remove_namespace(subsystem, nsid), json::object();
    return json{{"changed", target.revalidate_namespace(subsystem, nsid)}};
  }
  if (op == "add-host") return target.add_host(nqn(), req.required("host").string()), json::object();
  if (op == "remove-host") return target.remove_host(nqn(), req.required("host").string()), json::object();
  if (op == "set-tls-psk" || op == "remove-tls-psk") {
    const auto& registry = target.registry();
    const std::string host_nqn = req.required("host").string();
    HostConfig host = registry->host(host_nqn).value_or(HostConfig{});
    host.nqn = host_nqn;
    if (op == "remove-tls-psk") {
      if (host.tls_psk.empty()) req["host"].refuse("this host has no TLS PSK");
      host.tls_psk.clear();
    } else {
      host.tls_psk = req.required("tls_psk").string();
    }
    target.set_host_config(host);  // validates first: names host.tls_psk, never the key
    return json::object();
  }
  if (op == "add-listener") {
    std::vector<std::string> only;
    if (req.has("subsystems")) only = req["subsystems"].strings();
    return json{{"address", target.add_listener(address("address"), only).to_string()}};
  }
  if (op == "remove-listener") return target.remove_listener(address("address")), json::object();
  if (op == "add-referral") {
    ReferralConfig r;
    r.address = address("address");
    if (req.has("portid")) r.portid = static_cast<std::uint16_t>(req["portid"].number(0, 65535));
    return target.add_referral(r), json::object();
  }
  if (op == "set-host-dhchap")
    return target.set_host_dhchap(parse_host_json(req.required("host").json(), "/host")), json::object();
  if (op == "remove-referral") return target.remove_referral(address("address")), json::object();
  if (op == "set-ana-state") {
    const auto portid = static_cast<std::uint16_t>(req.required("port").number(1, 65535));
    const auto grpid = static_cast<std::uint32_t>(req.required("group").number(1, kMaxAnaGroups));
    const auto state = parse_ana_state(req.required("state").string());
    if (!state) req["state"].refuse("expected optimized, non-optimized, inaccessible, persistent-loss or change");
    return target.set_ana_state(portid, grpid, *state), json::object();
  }
  req["op"].refuse("unknown request");
}
}  // namespace

std::string field_to_pointer(const std::string& field) {
  if (field.empty() || field[0] == '/') return field;
  std::string out = "/";
  for (char c : field) {
    if (c == '.' || c == '[') out += '/';
    else if (c != ']') out += c;
  }
  return out;
}

nlohmann::json handle_control_request(Target& target, const nlohmann::json& request) {
  try {
    JsonCursor req(request, "");
    req.expect_object();
    json reply = dispatch(target, req);
    reply["ok"] = true;
    return reply;
  } catch (const ConfigError& e) {
    // A reload's refusal is already named after the file ("FILE: /json/pointer").
    const bool located = request.is_object() && request.value("op", "") == "reload";
    std::string field = located ? e.field() : field_to_pointer(e.field());
    // Target names a few fields by the request member they came from ("nqn", "nsid", "host", "address").
    return json{{"ok", false}, {"error", {{"field", field}, {"value", e.value()}, {"reason", e.reason()}}}};
  } catch (const std::exception& e) {
    return json{{"ok", false}, {"error", {{"field", ""}, {"value", ""}, {"reason", e.what()}}}};
  }
}

}  // namespace nvmf::target
