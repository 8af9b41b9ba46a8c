// nvmetcli's saved configuration (the Linux kernel target's configfs tree as JSON): ports, subsystems, hosts.
// Mapping: each port becomes a listener serving exactly its "subsystems" (none: discovery only) and its
// referrals become discovery referrals; attr.allow_any_host "1" means an empty allowed-host list; a namespace's
// device.path is a block device (blk) or a regular file (file), as nvmet decides from the path; device.nguid and
// device.uuid are kept. Kernel-only knobs that change behaviour we cannot offer (pi_enable, a required secure
// channel, non-IP transports) are refused; purely informational ones are accepted.
#include <sys/stat.h>

#include <set>

#include "fabric/log.hpp"
#include "target/config_json.hpp"
#include "target/json_cursor.hpp"

namespace nvmf::target {

namespace {
using Origins = std::map<std::string, std::string>;

/// configfs attributes are text: nvmetcli saves "1", "0", "16384"; numbers are accepted too.
std::string attr_text(const JsonCursor& c) {
  if (c.json().is_string()) return c.json().get<std::string>();
  if (c.json().is_number_integer()) return std::to_string(c.json().get<std::int64_t>());
  c.refuse("expected a string or a number");
}

bool attr_flag(const JsonCursor& c) {
  const std::string v = attr_text(c);
  if (v == "1") return true;
  if (v == "0") return false;
  c.refuse("expected \"0\" or \"1\"");
}

std::uint64_t attr_number(const JsonCursor& c, std::uint64_t min, std::uint64_t max) {
  const std::string v = attr_text(c);
  std::uint64_t n = 0;
  try {
    std::size_t used = 0;
    n = std::stoull(v, &used, 0);
    if (used != v.size()) throw std::invalid_argument(v);
  } catch (const std::logic_error&) {
    c.refuse("expected a number");
  }
  if (n < min || n > max) c.refuse("must be from " + std::to_string(min) + " to " + std::to_string(max));
  return n;
}

fabric::ListenAddress read_addr(const JsonCursor& addr, const std::string& field, Origins& origins) {
  addr.expect_object();
  fabric::ListenAddress a;
  const JsonCursor trtype = addr.required("trtype");
  const std::string t = trtype.string();
  if (t == "tcp") a.trtype = fabric::TransportType::tcp;
  else if (t == "rdma") a.trtype = fabric::TransportType::rdma;
  else trtype.refuse("only tcp and rdma are served (nvmet's loop and fc have no equivalent here)");
  const JsonCursor adrfam = addr.required("adrfam");
  const std::string f = adrfam.string();
  if (f == "ipv6") a.ipv6 = true;
  else if (f != "ipv4") adrfam.refuse("only ipv4 and ipv6 addresses are served");
  a.traddr = addr.required("traddr").string();
  a.trsvcid = addr.required("trsvcid").string();
  origins[field] = addr.pointer();
  origins[field + ".address"] = addr["traddr"].pointer();
  // nvmet's addr_tsas "tls1.3" offers TLS; addr_treq "required" then refuses plain hosts.
  bool tls = false;
  if (addr.has("tsas")) {
    const std::string v = addr["tsas"].string();
    if (v == "tls1.3") tls = true;
    else if (v != "none" && v != "") addr["tsas"].refuse("expected \"none\" or \"tls1.3\"");
  }
  if (addr.has("treq")) {
    const JsonCursor treq = addr["treq"];
    const std::string v = treq.string();
    if (v == "required" && !tls) treq.refuse("a required secure channel needs tsas \"tls1.3\"");
    if (v != "not specified" && v != "not required" && v != "required")
      treq.refuse("expected \"not specified\", \"not required\" or \"required\"");
    if (tls) a.tls = v == "required" ? fabric::TlsPolicy::required : fabric::TlsPolicy::allowed;
  } else if (tls) {
    a.tls = fabric::TlsPolicy::allowed;
  }
  if (a.tls != fabric::TlsPolicy::none && a.trtype != fabric::TransportType::tcp)
    addr.refuse("TLS is an NVMe/TCP secure channel");
  return a;
}

NamespaceConfig read_namespace(const JsonCursor& c, const std::string& field, Origins& origins) {
  c.expect_object();
  NamespaceConfig ns;
  origins[field] = c.pointer();
  ns.nsid = static_cast<std::uint32_t>(c.required("nsid").number(1, kMaxNsid));
  origins[field + ".nsid"] = c["nsid"].pointer();
  if (c.has("ana_grpid")) {
    ns.ana_grpid = static_cast<std::uint32_t>(c["ana_grpid"].number(1, kMaxAnaGroups));
    origins[field + ".ana_grpid"] = c["ana_grpid"].pointer();
  }
  const JsonCursor device = c.required("device");
  device.expect_object();
  const JsonCursor path = device.required("path");
  ns.path = path.json().is_null() ? std::string() : path.string();
  origins[field + ".path"] = path.pointer();
  // As nvmet: a block device goes through the block layer, anything else through the file path.
  struct stat st {};
  ns.kind = (!ns.path.empty() && stat(ns.path.c_str(), &st) == 0 && S_ISBLK(st.st_mode)) ? BackendKind::blk
                                                                                          : BackendKind::file;
  for (const char* key : {"nguid", "uuid"}) {
    if (!device.has(key) || device[key].json().is_null()) continue;
    const JsonCursor id = device[key];
    std::array<std::uint8_t, 16> bytes{};
    try {
      bytes = parse_uuid(id.string());
    } catch (const ConfigError&) {
      throw;
    } catch (const std::invalid_argument& e) {
      id.refuse(e.what());
    }
    // nvmet reports an all-zero NGUID as "none"; keep ours derived then.
    if (bytes == std::array<std::uint8_t, 16>{}) continue;
    (std::string(key) == "nguid" ? ns.nguid : ns.uuid) = bytes;
    origins[field + "." + key] = id.pointer();
  }
  return ns;
}

SubsystemConfig read_subsystem(const JsonCursor& c, const std::string& field, const std::set<std::string>& hosts,
                               Origins& origins) {
  c.expect_object();
  SubsystemConfig s;
  origins[field] = c.pointer();
  s.nqn = c.required("nqn").string();
  origins[field + ".nqn"] = c["nqn"].pointer();
  bool allow_any = false;
  if (c.has("attr")) {
    const JsonCursor attr = c["attr"];
    attr.expect_object();
    for (const auto& [key, value] : attr.json().items()) {
      const JsonCursor a = attr[key];
      if (key == "allow_any_host") allow_any = attr_flag(a);
      else if (key == "serial") s.serial = attr_text(a), origins[field + ".serial"] = a.pointer();
      else if (key == "model") s.model = attr_text(a), origins[field + ".model"] = a.pointer();
      else if (key == "firmware") s.firmware = attr_text(a), origins[field + ".firmware"] = a.pointer();
      else if (key == "cntlid_min")
        s.cntlid_min = static_cast<std::uint16_t>(attr_number(a, 1, 0xFFEF)), origins[field + ".cntlid_min"] = a.pointer();
      else if (key == "cntlid_max")
        s.cntlid_max = static_cast<std::uint16_t>(attr_number(a, 1, 0xFFEF)), origins[field + ".cntlid_max"] = a.pointer();
      else if (key == "pi_enable") {
        if (attr_flag(a)) a.refuse("protection information is not supported");
      } else if (key == "version" || key == "ieee_oui" || key == "qid_max" || key == "passthru_ctrl")
        NVMF_LOG(warn, "%s: kernel target attribute ignored (this target reports NVMe 1.4, no OUI)", a.pointer().c_str());
      else
        NVMF_LOG(warn, "%s: unknown kernel target attribute ignored", a.pointer().c_str());
    }
  }
  if (c.has("allowed_hosts")) {
    const JsonCursor list = c["allowed_hosts"];
    for (std::size_t i = 0; i < list.array_size(); ++i) {
      const std::string h = list[i].string();
      // nvmetcli links an allowed host to an entry of "hosts"; restore fails without it.
      if (!hosts.count(h)) list[i].refuse("not defined in /hosts");
      s.allowed_hosts.push_back(h);
      origins[field + ".allowed_hosts[" + std::to_string(i) + "]"] = list[i].pointer();
    }
    // nvmet refuses allow_any_host with linked hosts (EINVAL); so do we rather than guess.
    if (allow_any && !s.allowed_hosts.empty())
      list.refuse("allowed_hosts must be empty when attr.allow_any_host is \"1\"");
  }
  // allow_any_host "0" with no allowed host: nvmet admits nobody. Refuse: such a subsystem serves no one.
  if (!allow_any && s.allowed_hosts.empty())
    c.refuse("attr.allow_any_host is \"0\" and no allowed_hosts are listed: no host could connect");
  if (c.has("namespaces")) {
    const JsonCursor list = c["namespaces"];
    for (std::size_t i = 0; i < list.array_size(); ++i) {
      const JsonCursor n = list[i];
      n.expect_object();
      // A disabled namespace exists in configfs but is not served (nvmet_ns_disable).
      if (n.has("enable") && !attr_flag(n["enable"])) continue;
      s.namespaces.push_back(read_namespace(n, field + ".namespaces[" + std::to_string(s.namespaces.size()) + "]", origins));
    }
  }
  return s;
}
}  // namespace

namespace {
/// nvmet's hosts/<nqn>/dhchap_key, dhchap_ctrl_key, dhchap_hash and dhchap_dhgroup, saved by nvmetcli either
/// flat ("dhchap_key") or as its attribute group ("dhchap": {"key": ...}). Empty values mean "not set", as an
/// empty configfs attribute.
void read_dhchap_attributes(const JsonCursor& c, const std::string& field, HostConfig& host, Origins& origins) {
  auto take = [&](const JsonCursor& at, const char* key, const char* ours) -> std::string {
    if (!at.has(key)) return {};
    origins[field + "." + ours] = at[key].pointer();
    return at[key].string();
  };
  auto apply = [&](const JsonCursor& at, const std::string& prefix) {
    if (auto v = take(at, (prefix + "key").c_str(), "dhchap_key"); !v.empty()) host.dhchap_key = v;
    if (auto v = take(at, (prefix + "ctrl_key").c_str(), "dhchap_ctrl_key"); !v.empty()) host.dhchap_ctrl_key = v;
    if (auto v = take(at, (prefix + "hash").c_str(), "dhchap_hashes[0]"); !v.empty()) host.dhchap_hashes = {v};
    if (auto v = take(at, (prefix + "dhgroup").c_str(), "dhchap_dhgroups[0]"); !v.empty()) host.dhchap_dhgroups = {v};
  };
  apply(c, "dhchap_");
  if (c.has("dhchap")) apply(c["dhchap"], "");
}
}  // namespace

LoadedConfig parse_nvmetcli_config(const nlohmann::json& document) {
  LoadedConfig out;
  out.format = ConfigFormat::nvmetcli;
  TargetConfig& cfg = out.config;
  Origins& origins = out.origins;
  JsonCursor root(document, "");
  root.only_keys({"hosts", "ports", "subsystems"});
  cfg.discovery_port = 0;  // nvmet listens only where a port says so

  std::set<std::string> hosts;
  if (root.has("hosts")) {
    const JsonCursor list = root["hosts"];
    origins["hosts"] = list.pointer();
    for (std::size_t i = 0; i < list.array_size(); ++i) {
      const std::string nqn = list[i].required("nqn").string();
      if (!hosts.insert(nqn).second) continue;
      const std::string field = "hosts[" + std::to_string(cfg.hosts.size()) + "]";
      origins[field] = list[i].pointer();
      origins[field + ".nqn"] = list[i]["nqn"].pointer();
      // nvmet keeps TLS PSKs in the kernel's .nvme keyring, not in configfs: the saved file carries none.
      HostConfig host{};
      host.nqn = nqn;
      read_dhchap_attributes(list[i], field, host, origins);
      cfg.hosts.push_back(std::move(host));
    }
  }
  if (root.has("subsystems")) {
    const JsonCursor list = root["subsystems"];
    origins["subsystems"] = list.pointer();
    for (std::size_t i = 0; i < list.array_size(); ++i)
      cfg.subsystems.push_back(read_subsystem(list[i], "subsystems[" + std::to_string(i) + "]", hosts, origins));
  }
  std::set<std::string> nqns;
  for (const auto& s : cfg.subsystems) nqns.insert(s.nqn);

  const JsonCursor ports = root.required("ports");
  origins["listeners"] = ports.pointer();
  std::optional<std::uint32_t> inline_size;
  for (std::size_t i = 0; i < ports.array_size(); ++i) {
    const JsonCursor port = ports[i];
    port.expect_object();
    const std::string field = "listeners[" + std::to_string(cfg.listeners.size()) + "]";
    const std::size_t index = cfg.listeners.size();
    cfg.listeners.push_back(read_addr(port.required("addr"), field, origins));
    std::vector<std::string> served;
    if (port.has("subsystems")) {
      const JsonCursor list = port["subsystems"];
      for (std::size_t k = 0; k < list.array_size(); ++k) {
        const std::string nqn = list[k].string();
        if (!nqns.count(nqn)) list[k].refuse("not defined in /subsystems");
        served.push_back(nqn);
      }
    }
    cfg.listener_subsystems[index] = served;  // empty: discovery only, as an nvmet port without subsystems
    if (port.has("ana_groups")) {
      // nvmetcli: [{"ana": {"state": "optimized"}, "grpid": 1}, ...] (configfs ports/<p>/ana_groups/<g>/ana_state)
      const JsonCursor list = port["ana_groups"];
      auto& states = cfg.listener_ana_states[index];
      for (std::size_t k = 0; k < list.array_size(); ++k) {
        const JsonCursor g = list[k];
        g.expect_object();
        const auto grpid = static_cast<std::uint32_t>(g.required("grpid").number(1, kMaxAnaGroups));
        const JsonCursor state_field = g.required("ana").required("state");
        const auto state = parse_ana_state(state_field.string());
        if (!state) state_field.refuse("expected optimized, non-optimized, inaccessible, persistent-loss or change");
        if (!states.emplace(grpid, *state).second) g["grpid"].refuse("ANA group listed twice for this port");
      }
      origins[field + ".ana_groups"] = list.pointer();
    }
    if (port.has("referrals")) {
      const JsonCursor list = port["referrals"];
      for (std::size_t k = 0; k < list.array_size(); ++k) {
        const JsonCursor r = list[k];
        r.expect_object();
        if (r.has("enable") && !attr_flag(r["enable"])) continue;
        ReferralConfig rc;
        const std::string rfield = "referrals[" + std::to_string(cfg.referrals.size()) + "]";
        rc.address = read_addr(r.required("addr"), rfield, origins);
        origins[rfield + ".address"] = r["addr"].pointer();
        rc.portid = r.has("portid") ? static_cast<std::uint16_t>(r["portid"].number(0, 65535))
                                    : static_cast<std::uint16_t>(port.required("portid").number(0, 65535));
        cfg.referrals.push_back(rc);
      }
    }
    if (port.has("param")) {
      const JsonCursor param = port["param"];
      param.expect_object();
      if (param.has("pi_enable") && attr_flag(param["pi_enable"]))
        param["pi_enable"].refuse("protection information is not supported");
      if (param.has("inline_data_size")) {
        const JsonCursor c = param["inline_data_size"];
        const std::string text = attr_text(c);
        if (text != "-1") {  // -1: the transport's default
          auto size = static_cast<std::uint32_t>(attr_number(c, 0, 1u << 20));
          // One in-capsule size for every port here (a limit of the whole target).
          if (inline_size && *inline_size != size) c.refuse("differs from another port's; one size serves all ports");
          inline_size = size;
          origins["limits.in_capsule_data_size"] = c.pointer();
        }
      }
    }
  }
  if (inline_size) cfg.limits.in_capsule_data_size = *inline_size;
  return out;
}

}  // namespace nvmf::target
