// The toolkit's own configuration schema (docs/configuration.md): reading and writing.
#include <algorithm>

#include "fabric/reactor.hpp"
#include "target/config_json.hpp"
#include "target/json_cursor.hpp"

namespace nvmf::target {

namespace {
using Origins = std::map<std::string, std::string>;
using nlohmann::json;

const char* level_name(log::Level level) {
  switch (level) {
    case log::Level::error: return "error";
    case log::Level::warn: return "warn";
    case log::Level::info: return "info";
    case log::Level::debug: return "debug";
  }
  return "info";
}

fabric::ListenAddress address_of(const JsonCursor& c) {
  try {
    return parse_listen_address(c.string());
  } catch (const ConfigError&) {
    throw;
  } catch (const std::invalid_argument& e) {
    c.refuse(e.what());
  }
}

BackendKind kind_of(const JsonCursor& c) {
  const std::string name = c.string();
  for (BackendKind k : {BackendKind::ram, BackendKind::null, BackendKind::file, BackendKind::blk, BackendKind::nvme})
    if (name == backend_kind_name(k)) return k;
  c.refuse("unknown backend (ram, null, file, blk or nvme)");
}

std::array<std::uint8_t, 16> uuid_of(const JsonCursor& c) {
  try {
    return parse_uuid(c.string());
  } catch (const ConfigError&) {
    throw;
  } catch (const std::invalid_argument& e) {
    c.refuse(e.what());
  }
}

NamespaceConfig read_namespace(const JsonCursor& c, const std::string& field, Origins& origins) {
  c.only_keys({"nsid", "backend", "size", "path", "block_size", "hosts", "nguid", "uuid", "faults", "ana_grpid",
               "ptpl_file", "prefault", "huge_pages"});
  NamespaceConfig ns;
  origins[field] = c.pointer();
  auto note = [&](const char* key) {
    origins[field + "." + key] = c[key].pointer();
    return c[key];
  };
  ns.kind = kind_of(c.required("backend"));
  origins[field + ".backend"] = c["backend"].pointer();
  if (c.has("nsid")) ns.nsid = static_cast<std::uint32_t>(note("nsid").number(1, kMaxNsid));
  if (c.has("size")) ns.size = note("size").size();
  if (c.has("path")) ns.path = note("path").string();
  if (c.has("block_size")) ns.block_size = static_cast<std::uint32_t>(note("block_size").number(0, 1u << 20));
  if (c.has("hosts")) ns.hosts = note("hosts").strings();
  for (std::size_t i = 0; i < ns.hosts.size(); ++i) origins[field + ".hosts[" + std::to_string(i) + "]"] = c["hosts"][i].pointer();
  if (c.has("nguid")) ns.nguid = uuid_of(note("nguid"));
  if (c.has("uuid")) ns.uuid = uuid_of(note("uuid"));
  if (c.has("faults")) ns.faults = note("faults").string();
  if (c.has("ana_grpid")) ns.ana_grpid = static_cast<std::uint32_t>(note("ana_grpid").number(1, kMaxAnaGroups));
  if (c.has("ptpl_file")) ns.ptpl_file = note("ptpl_file").string();
  if (c.has("prefault")) ns.prefault = note("prefault").boolean();
  if (c.has("huge_pages")) ns.huge_pages = note("huge_pages").boolean();
  return ns;
}

/// A listener's "ana_groups": [{"grpid": 2, "state": "non-optimized"}, ...].
std::map<std::uint32_t, AnaState> read_ana_groups(const JsonCursor& list) {
  std::map<std::uint32_t, AnaState> out;
  for (std::size_t k = 0; k < list.array_size(); ++k) {
    const JsonCursor g = list[k];
    g.only_keys({"grpid", "state"});
    const auto grpid = static_cast<std::uint32_t>(g.required("grpid").number(1, kMaxAnaGroups));
    const auto state = parse_ana_state(g.required("state").string());
    if (!state) g["state"].refuse("expected optimized, non-optimized, inaccessible, persistent-loss or change");
    if (!out.emplace(grpid, *state).second) g["grpid"].refuse("ANA group listed twice for this listener");
  }
  return out;
}

HostConfig read_host(const JsonCursor& c, const std::string& field, Origins& origins) {
  c.only_keys({"nqn", "dhchap_key", "dhchap_ctrl_key", "dhchap_hashes", "dhchap_dhgroups", "tls_psk"});
  HostConfig h;
  origins[field] = c.pointer();
  h.nqn = c.required("nqn").string();
  origins[field + ".nqn"] = c["nqn"].pointer();
  for (const char* key : {"dhchap_key", "dhchap_ctrl_key", "dhchap_hashes", "dhchap_dhgroups"})
    if (c.has(key)) origins[field + "." + key] = c[key].pointer();
  if (c.has("dhchap_key")) h.dhchap_key = c["dhchap_key"].string();
  if (c.has("dhchap_ctrl_key")) h.dhchap_ctrl_key = c["dhchap_ctrl_key"].string();
  if (c.has("dhchap_hashes")) h.dhchap_hashes = c["dhchap_hashes"].strings();
  if (c.has("dhchap_dhgroups")) h.dhchap_dhgroups = c["dhchap_dhgroups"].strings();
  if (c.has("tls_psk")) {
    h.tls_psk = c["tls_psk"].string();
    origins[field + ".tls_psk"] = c["tls_psk"].pointer();
  }
  return h;
}

SubsystemConfig read_subsystem(const JsonCursor& c, const std::string& field, Origins& origins) {
  c.only_keys({"nqn", "serial", "model", "firmware", "allowed_hosts", "namespaces", "cntlid_min", "cntlid_max"});
  SubsystemConfig s;
  origins[field] = c.pointer();
  auto note = [&](const char* key) {
    origins[field + "." + key] = c[key].pointer();
    return c[key];
  };
  s.nqn = c.required("nqn").string();
  origins[field + ".nqn"] = c["nqn"].pointer();
  if (c.has("serial")) s.serial = note("serial").string();
  if (c.has("model")) s.model = note("model").string();
  if (c.has("firmware")) s.firmware = note("firmware").string();
  if (c.has("cntlid_min")) s.cntlid_min = static_cast<std::uint16_t>(note("cntlid_min").number(1, 0xFFEF));
  if (c.has("cntlid_max")) s.cntlid_max = static_cast<std::uint16_t>(note("cntlid_max").number(1, 0xFFEF));
  if (c.has("allowed_hosts")) {
    s.allowed_hosts = note("allowed_hosts").strings();
    for (std::size_t i = 0; i < s.allowed_hosts.size(); ++i)
      origins[field + ".allowed_hosts[" + std::to_string(i) + "]"] = c["allowed_hosts"][i].pointer();
  }
  if (c.has("namespaces")) {
    JsonCursor list = note("namespaces");
    for (std::size_t i = 0; i < list.array_size(); ++i)
      s.namespaces.push_back(read_namespace(list[i], field + ".namespaces[" + std::to_string(i) + "]", origins));
  }
  return s;
}
}  // namespace

HostConfig parse_host_json(const nlohmann::json& value, const std::string& pointer) {
  Origins unused;
  return read_host(JsonCursor(value, pointer), "host", unused);
}

SubsystemConfig parse_subsystem_json(const nlohmann::json& value, const std::string& pointer) {
  Origins unused;
  return read_subsystem(JsonCursor(value, pointer), "subsystem", unused);
}

NamespaceConfig parse_namespace_json(const nlohmann::json& value, const std::string& pointer) {
  Origins unused;
  return read_namespace(JsonCursor(value, pointer), "namespace", unused);
}

fabric::ListenAddress parse_address_json(const nlohmann::json& value, const std::string& pointer) {
  return address_of(JsonCursor(value, pointer));
}

LoadedConfig parse_native_config(const nlohmann::json& document) {
  LoadedConfig out;
  out.format = ConfigFormat::native;
  TargetConfig& cfg = out.config;
  Origins& origins = out.origins;
  JsonCursor root(document, "");
  root.only_keys({"listeners", "discovery_port", "subsystems", "hosts", "referrals", "cores", "max_io_size",
                  "in_capsule_data_size", "queue_depth", "max_r2t_commands", "max_io_queues", "busy_poll",
                  "adaptive_poll_us", "log_level", "control_socket", "send_timeout_ms", "metrics"});
  auto note = [&](const char* key, const std::string& field) {
    origins[field] = root[key].pointer();
    return root[key];
  };

  JsonCursor listeners = root.required("listeners");
  origins["listeners"] = listeners.pointer();
  for (std::size_t i = 0; i < listeners.array_size(); ++i) {
    const std::string field = "listeners[" + std::to_string(i) + "]";
    JsonCursor l = listeners[i];
    if (l.json().is_string()) {
      cfg.listeners.push_back(address_of(l));
      origins[field] = l.pointer();
      continue;
    }
    l.only_keys({"address", "subsystems", "tls", "ana_groups"});
    if (l.has("ana_groups")) {
      cfg.listener_ana_states[i] = read_ana_groups(l["ana_groups"]);
      origins[field + ".ana_groups"] = l["ana_groups"].pointer();
    }
    cfg.listeners.push_back(address_of(l.required("address")));
    if (l.has("tls")) {
      const std::string t = l["tls"].string();
      if (t == "required") cfg.listeners.back().tls = fabric::TlsPolicy::required;
      else if (t == "allowed") cfg.listeners.back().tls = fabric::TlsPolicy::allowed;
      else if (t != "none") l["tls"].refuse("expected \"required\", \"allowed\" or \"none\"");
      origins[field + ".tls"] = l["tls"].pointer();
    }
    origins[field] = l["address"].pointer();
    if (l.has("subsystems")) {
      cfg.listener_subsystems[i] = l["subsystems"].strings();
      origins[field + ".subsystems"] = l["subsystems"].pointer();
      for (std::size_t k = 0; k < cfg.listener_subsystems[i].size(); ++k)
        origins[field + ".subsystems[" + std::to_string(k) + "]"] = l["subsystems"][k].pointer();
    }
  }
  if (root.has("discovery_port"))
    cfg.discovery_port = static_cast<std::uint16_t>(note("discovery_port", "discovery_port").number(0, 65535));
  JsonCursor subsystems = root.required("subsystems");
  origins["subsystems"] = subsystems.pointer();
  for (std::size_t i = 0; i < subsystems.array_size(); ++i)
    cfg.subsystems.push_back(read_subsystem(subsystems[i], "subsystems[" + std::to_string(i) + "]", origins));
  if (root.has("hosts")) {
    JsonCursor hosts = note("hosts", "hosts");
    for (std::size_t i = 0; i < hosts.array_size(); ++i)
      cfg.hosts.push_back(read_host(hosts[i], "hosts[" + std::to_string(i) + "]", origins));
  }
  if (root.has("referrals")) {
    JsonCursor refs = note("referrals", "referrals");
    for (std::size_t i = 0; i < refs.array_size(); ++i) {
      const std::string field = "referrals[" + std::to_string(i) + "]";
      JsonCursor r = refs[i];
      ReferralConfig rc;
      if (r.json().is_string()) {
        rc.address = address_of(r);
        origins[field + ".address"] = r.pointer();
      } else {
        r.only_keys({"address", "portid"});
        rc.address = address_of(r.required("address"));
        origins[field + ".address"] = r["address"].pointer();
        if (r.has("portid")) rc.portid = static_cast<std::uint16_t>(r["portid"].number(0, 65535));
      }
      origins[field] = r.pointer();
      cfg.referrals.push_back(rc);
    }
  }
  if (root.has("cores")) {
    JsonCursor c = note("cores", "cores");
    if (c.json().is_string()) {
      try {
        cfg.cores = fabric::parse_cpu_list(c.string());
      } catch (const std::invalid_argument& e) {
        c.refuse(e.what());
      }
    } else {
      for (std::size_t i = 0; i < c.array_size(); ++i) cfg.cores.push_back(static_cast<int>(c[i].number(0, 4095)));
    }
  }
  if (root.has("max_io_size"))
    cfg.limits.max_io_size = static_cast<std::uint32_t>(note("max_io_size", "limits.max_io_size").size());
  if (root.has("in_capsule_data_size"))
    cfg.limits.in_capsule_data_size =
        static_cast<std::uint32_t>(note("in_capsule_data_size", "limits.in_capsule_data_size").size());
  if (root.has("queue_depth"))
    cfg.limits.max_queue_depth = static_cast<std::uint16_t>(note("queue_depth", "limits.max_queue_depth").number(2, 1024));
  if (root.has("send_timeout_ms"))
    cfg.limits.send_timeout_ms =
        static_cast<std::uint32_t>(note("send_timeout_ms", "limits.send_timeout_ms").number(0, 3600000));
  if (root.has("max_r2t_commands"))
    cfg.limits.max_r2t_commands =
        static_cast<std::uint16_t>(note("max_r2t_commands", "limits.max_r2t_commands").number(0, 65535));
  if (root.has("max_io_queues"))
    cfg.max_io_queues = static_cast<std::uint16_t>(note("max_io_queues", "max_io_queues").number(1, 1024));
  if (root.has("busy_poll")) cfg.busy_poll = note("busy_poll", "busy_poll").boolean();
  if (root.has("adaptive_poll_us"))
    cfg.adaptive_poll_us =
        static_cast<std::uint32_t>(note("adaptive_poll_us", "adaptive_poll_us").number(0, kMaxAdaptivePollUs));
  if (root.has("log_level")) {
    JsonCursor c = note("log_level", "log_level");
    const std::string name = c.string();
    bool found = false;
    for (log::Level l : {log::Level::error, log::Level::warn, log::Level::info, log::Level::debug})
      if (name == level_name(l)) cfg.log_level = l, found = true;
    if (!found) c.refuse("expected error, warn, info or debug");
  }
  if (root.has("control_socket")) cfg.control_socket = note("control_socket", "control_socket").string();
  if (root.has("metrics")) cfg.metrics = address_of(note("metrics", "metrics"));
  return out;
}

nlohmann::json namespace_to_json(const NamespaceConfig& ns) {
  json j;
  j["nsid"] = ns.nsid;
  j["backend"] = backend_kind_name(ns.kind);
  if (ns.kind == BackendKind::ram || ns.kind == BackendKind::null) j["size"] = ns.size;
  else j["path"] = ns.path;
  if (ns.kind != BackendKind::blk && ns.kind != BackendKind::nvme) j["block_size"] = ns.block_size;
  if (!ns.hosts.empty()) j["hosts"] = ns.hosts;
  if (ns.nguid) j["nguid"] = format_uuid(*ns.nguid);
  if (ns.uuid) j["uuid"] = format_uuid(*ns.uuid);
  if (!ns.faults.empty()) j["faults"] = ns.faults;
  if (ns.ana_grpid != kDefaultAnaGroup) j["ana_grpid"] = ns.ana_grpid;
  if (!ns.ptpl_file.empty()) j["ptpl_file"] = ns.ptpl_file;
  if (ns.prefault) j["prefault"] = true;
  if (ns.huge_pages) j["huge_pages"] = true;
  return j;
}

nlohmann::json host_to_json(const HostConfig& h) {
  json j;
  j["nqn"] = h.nqn;
  if (!h.dhchap_key.empty()) j["dhchap_key"] = h.dhchap_key;
  if (!h.dhchap_ctrl_key.empty()) j["dhchap_ctrl_key"] = h.dhchap_ctrl_key;
  if (!h.dhchap_hashes.empty()) j["dhchap_hashes"] = h.dhchap_hashes;
  if (!h.dhchap_dhgroups.empty()) j["dhchap_dhgroups"] = h.dhchap_dhgroups;
  if (!h.tls_psk.empty()) j["tls_psk"] = h.tls_psk;
  return j;
}

nlohmann::json subsystem_to_json(const SubsystemConfig& s) {
  json j;
  j["nqn"] = s.nqn;
  if (!s.serial.empty()) j["serial"] = s.serial;
  j["model"] = s.model;
  j["firmware"] = s.firmware;
  j["allowed_hosts"] = s.allowed_hosts;
  if (s.cntlid_min != 1) j["cntlid_min"] = s.cntlid_min;
  if (s.cntlid_max != 0xFFEF) j["cntlid_max"] = s.cntlid_max;
  j["namespaces"] = json::array();
  for (const auto& ns : s.namespaces) j["namespaces"].push_back(namespace_to_json(ns));
  return j;
}

nlohmann::json to_json(const TargetConfig& cfg) {
  json j;
  j["listeners"] = json::array();
  for (std::size_t i = 0; i < cfg.listeners.size(); ++i) {
    auto it = cfg.listener_subsystems.find(i);
    const fabric::TlsPolicy tls = cfg.listeners[i].tls;
    auto ana = cfg.listener_ana_states.find(i);
    if (it == cfg.listener_subsystems.end() && tls == fabric::TlsPolicy::none && ana == cfg.listener_ana_states.end()) {
      j["listeners"].push_back(cfg.listeners[i].to_string());
    } else {
      json l{{"address", cfg.listeners[i].to_string()}};
      if (it != cfg.listener_subsystems.end()) l["subsystems"] = it->second;
      if (tls != fabric::TlsPolicy::none) l["tls"] = tls == fabric::TlsPolicy::required ? "required" : "allowed";
      if (ana != cfg.listener_ana_states.end()) {
        l["ana_groups"] = json::array();
        for (const auto& [grpid, state] : ana->second)
          l["ana_groups"].push_back(json{{"grpid", grpid}, {"state", ana_state_name(state)}});
      }
      j["listeners"].push_back(l);
    }
  }
  j["discovery_port"] = cfg.discovery_port;
  j["subsystems"] = json::array();
  for (const auto& s : cfg.subsystems) j["subsystems"].push_back(subsystem_to_json(s));
  if (!cfg.hosts.empty()) {
    j["hosts"] = json::array();
    for (const auto& h : cfg.hosts) j["hosts"].push_back(host_to_json(h));
  }
  j["referrals"] = json::array();
  for (const auto& r : cfg.referrals)
    j["referrals"].push_back(json{{"address", r.address.to_string()}, {"portid", r.portid}});
  if (!cfg.cores.empty()) j["cores"] = cfg.cores;
  j["max_io_size"] = cfg.limits.max_io_size;
  j["in_capsule_data_size"] = cfg.limits.in_capsule_data_size;
  j["queue_depth"] = cfg.limits.max_queue_depth;
  j["max_r2t_commands"] = cfg.limits.max_r2t_commands;
  j["send_timeout_ms"] = cfg.limits.send_timeout_ms;
  j["max_io_queues"] = cfg.max_io_queues;
  j["busy_poll"] = cfg.busy_poll;
  j["adaptive_poll_us"] = cfg.adaptive_poll_us;
  j["log_level"] = level_name(cfg.log_level);
  if (!cfg.control_socket.empty()) j["control_socket"] = cfg.control_socket;
  if (cfg.metrics) j["metrics"] = cfg.metrics->to_string();
  return j;
}

}  // namespace nvmf::target
