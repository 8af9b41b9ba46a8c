#include "target/config.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <set>
#include <stdexcept>
#include <utility>

#include "nvme/fabrics.hpp"
#include "target/backends/fault_spec.hpp"
#include "target/auth/dhchap_credentials.hpp"
#include "nvme/tls_psk.hpp"

namespace nvmf::target {

ConfigError::ConfigError(std::string field, std::string value, std::string reason)
    : std::invalid_argument(field + ": '" + value + "': " + reason),
      field_(std::move(field)),
      value_(std::move(value)),
      reason_(std::move(reason)) {}

const char* backend_kind_name(BackendKind kind) {
  switch (kind) {
    case BackendKind::ram: return "ram";
    case BackendKind::null: return "null";
    case BackendKind::file: return "file";
    case BackendKind::blk: return "blk";
    case BackendKind::nvme: return "nvme";
  }
  return "?";
}

namespace {
// NVMe base spec: an NQN is at most 223 bytes of UTF-8, starting with "nqn.".
constexpr std::size_t kMaxNqnLength = 223;

[[noreturn]] void refuse(const std::string& field, const std::string& value, const std::string& reason) {
  throw ConfigError(field, value, reason);
}

void check_ascii(const std::string& field, const std::string& value, std::size_t max) {
  if (value.size() > max) refuse(field, value, "longer than " + std::to_string(max) + " characters");
  for (unsigned char c : value)
    if (c < 0x20 || c > 0x7E) refuse(field, value, "only printable ASCII is allowed");
}

bool rdma_built() {
#ifdef NVMF_HAVE_RDMA
  return true;
#else
  return false;
#endif
}

bool is_power_of_two(std::uint64_t v) { return v && !(v & (v - 1)); }

bool valid_port(const std::string& port) {
  return !port.empty() && port.size() <= 5 &&
         std::all_of(port.begin(), port.end(), [](unsigned char c) { return std::isdigit(c); }) &&
         std::stoul(port) <= 65535;
}

std::string derive_serial(const std::string& nqn) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : nqn) h = (h ^ c) * 0x100000001b3ULL;
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < 16; ++i) s += hex[(h >> (60 - 4 * i)) & 0xF];
  return s;
}
}  // namespace

void check_nqn(const std::string& field, const std::string& nqn) {
  if (nqn.size() > kMaxNqnLength) refuse(field, nqn, "longer than 223 bytes");
  if (nqn.rfind("nqn.", 0) != 0) refuse(field, nqn, "an NQN starts with 'nqn.' (nqn.yyyy-mm.domain:name)");
  for (unsigned char c : nqn)
    if (c < 0x20 || c == 0x7F) refuse(field, nqn, "contains a control character");
}

SubsystemConfig resolve_defaults(const SubsystemConfig& config) {
  SubsystemConfig out = config;
  if (out.nqn.empty()) out.nqn = kDefaultSubsystemNqn;
  if (out.serial.empty()) out.serial = derive_serial(out.nqn);
  std::uint32_t next = 1;
  for (auto& ns : out.namespaces) {
    if (ns.nsid == 0) ns.nsid = next;
    next = ns.nsid + 1;
  }
  return out;
}

void validate_address(const fabric::ListenAddress& l, const std::string& field) {
  if (l.trtype == fabric::TransportType::rdma && !rdma_built())
    refuse(field, l.to_string(), "this build has no RDMA transport (rdma-core was not found)");
  unsigned char buf[16];
  if (inet_pton(l.ipv6 ? AF_INET6 : AF_INET, l.traddr.c_str(), buf) != 1)
    refuse(field, l.traddr, l.ipv6 ? "not an IPv6 address" : "not an IPv4 address");
  if (!valid_port(l.trsvcid)) refuse(field, l.trsvcid, "the port must be a number from 0 to 65535");
}

void validate_namespace(const NamespaceConfig& ns, const std::string& nfield) {
  if (ns.block_size != 512 && ns.block_size != 4096)
    refuse(nfield + ".block_size", std::to_string(ns.block_size), "must be 512 or 4096");
  if (ns.nsid > kMaxNsid)
    refuse(nfield + ".nsid", std::to_string(ns.nsid), "NSIDs go from 1 to " + std::to_string(kMaxNsid));
  if (ns.ana_grpid < 1 || ns.ana_grpid > kMaxAnaGroups)
    refuse(nfield + ".ana_grpid", std::to_string(ns.ana_grpid),
           "ANA group IDs go from 1 to " + std::to_string(kMaxAnaGroups));
  switch (ns.kind) {
    case BackendKind::file:
    case BackendKind::blk:
    case BackendKind::nvme:
      if (ns.path.empty())
        refuse(nfield + ".path", ns.path, std::string("a ") + backend_kind_name(ns.kind) + " namespace needs a path");
      break;
    case BackendKind::ram:
    case BackendKind::null:
      if (ns.size == 0) refuse(nfield + ".size", "0", "must be positive");
      if (ns.size % ns.block_size)
        refuse(nfield + ".size", std::to_string(ns.size),
               "not a multiple of the block size " + std::to_string(ns.block_size));
      break;
  }
  // Memory options shape an anonymous mapping; other backends have none to shape.
  if (ns.prefault && ns.kind != BackendKind::ram)
    refuse(nfield + ".prefault", "true", std::string("only a ram namespace can be prefaulted, not ") +
                                             backend_kind_name(ns.kind));
  if (ns.huge_pages && ns.kind != BackendKind::ram)
    refuse(nfield + ".huge_pages", "true", std::string("only a ram namespace has huge pages, not ") +
                                               backend_kind_name(ns.kind));
  if (ns.huge_pages && !ns.prefault)
    refuse(nfield + ".huge_pages", "true",
           "needs prefault: on-demand huge pages stall the first write to each 2 MiB (docs/performance.md)");
  for (std::size_t h = 0; h < ns.hosts.size(); ++h) check_nqn(nfield + ".hosts[" + std::to_string(h) + "]", ns.hosts[h]);
  if (!ns.faults.empty()) {
    // NVMe passthrough hands whole commands to the drive; faults are injected on byte-range backends.
    if (ns.kind == BackendKind::nvme)
      refuse(nfield + ".faults", ns.faults, "an nvme (passthrough) namespace cannot inject faults");
    try {
      parse_fault_spec(ns.faults);
    } catch (const std::invalid_argument& e) {
      refuse(nfield + ".faults", ns.faults, e.what());
    }
  }
}

void validate_host(const HostConfig& host, const std::string& field) {
  check_nqn(field + ".nqn", host.nqn);
  validate_dhchap(host, field);
  if (!host.tls_psk.empty()) {
    std::string why;
    // The value is a secret: the error names the field and the reason, never the key.
    if (!nvme::tls::parse_interchange(host.tls_psk, &why)) refuse(field + ".tls_psk", "(not shown)", why);
  }
}

void validate_subsystem(const SubsystemConfig& config, const std::string& field) {
  const SubsystemConfig sub = resolve_defaults(config);
  check_nqn(field + ".nqn", sub.nqn);
  if (sub.nqn == nvme::kDiscoveryNqn) refuse(field + ".nqn", sub.nqn, "the well-known discovery NQN is built in");
  check_ascii(field + ".serial", sub.serial, 20);
  check_ascii(field + ".model", sub.model, 40);
  check_ascii(field + ".firmware", sub.firmware, 8);
  for (std::size_t h = 0; h < sub.allowed_hosts.size(); ++h)
    check_nqn(field + ".allowed_hosts[" + std::to_string(h) + "]", sub.allowed_hosts[h]);
  if (sub.cntlid_min < 1 || sub.cntlid_min > sub.cntlid_max || sub.cntlid_max > 0xFFEF)
    refuse(field + ".cntlid_min", std::to_string(sub.cntlid_min) + "-" + std::to_string(sub.cntlid_max),
           "controller IDs must be a range within 1-65519 (FFF0h and above are reserved)");
  std::set<std::uint32_t> nsids;
  for (std::size_t n = 0; n < sub.namespaces.size(); ++n) {
    const NamespaceConfig& ns = sub.namespaces[n];
    const std::string nfield = field + ".namespaces[" + std::to_string(n) + "]";
    validate_namespace(ns, nfield);
    if (!nsids.insert(ns.nsid).second) refuse(nfield + ".nsid", std::to_string(ns.nsid), "used twice");
  }
}

void TargetConfig::validate() const {
  if (listeners.empty()) refuse("listeners", "", "at least one listen address is needed");
  for (std::size_t i = 0; i < listeners.size(); ++i) validate_address(listeners[i], "listeners[" + std::to_string(i) + "]");
  if (metrics) {
    validate_address(*metrics, "metrics");
    if (metrics->trtype != fabric::TransportType::tcp)
      refuse("metrics", metrics->to_string(), "the metrics endpoint is HTTP: expected tcp:ADDR:PORT");
  }
  for (std::size_t i = 0; i < referrals.size(); ++i)
    validate_address(referrals[i].address, "referrals[" + std::to_string(i) + "].address");

  if (subsystems.empty()) refuse("subsystems", "", "at least one subsystem is needed");
  std::set<std::string> nqns;
  for (std::size_t s = 0; s < subsystems.size(); ++s) {
    const std::string field = "subsystems[" + std::to_string(s) + "]";
    validate_subsystem(subsystems[s], field);
    const std::string nqn = resolve_defaults(subsystems[s]).nqn;
    if (!nqns.insert(nqn).second) refuse(field + ".nqn", nqn, "configured twice");
  }
  std::set<std::string> host_nqns;
  for (std::size_t h = 0; h < hosts.size(); ++h) {
    const std::string field = "hosts[" + std::to_string(h) + "]";
    validate_host(hosts[h], field);
    if (!host_nqns.insert(hosts[h].nqn).second) refuse(field + ".nqn", hosts[h].nqn, "configured twice");
  }
  for (const auto& [index, groups] : listener_ana_states) {
    const std::string field = "listeners[" + std::to_string(index) + "].ana_groups";
    if (index >= listeners.size()) refuse(field, "", "no such listener");
    for (const auto& [grpid, state] : groups)
      if (grpid < 1 || grpid > kMaxAnaGroups)
        refuse(field, std::to_string(grpid), "ANA group IDs go from 1 to " + std::to_string(kMaxAnaGroups));
  }
  for (const auto& [index, names] : listener_subsystems) {
    const std::string field = "listeners[" + std::to_string(index) + "].subsystems";
    if (index >= listeners.size()) refuse(field, std::to_string(index), "no such listener");
    for (std::size_t i = 0; i < names.size(); ++i)
      if (!nqns.count(names[i])) refuse(field + "[" + std::to_string(i) + "]", names[i], "no such subsystem");
  }

  if (limits.max_io_size < 4096 || !is_power_of_two(limits.max_io_size) || limits.max_io_size > (8u << 20))
    refuse("limits.max_io_size", std::to_string(limits.max_io_size), "must be a power of two from 4096 to 8 MiB");
  if (limits.in_capsule_data_size % 16 || limits.in_capsule_data_size > limits.max_io_size)
    refuse("limits.in_capsule_data_size", std::to_string(limits.in_capsule_data_size),
           "must be a multiple of 16 and at most max_io_size");
  if (limits.max_queue_depth < 2 || limits.max_queue_depth > 1024)
    refuse("limits.max_queue_depth", std::to_string(limits.max_queue_depth), "must be from 2 to 1024");
  if (limits.admin_in_capsule_data_size < sizeof(nvmf_connect_data))
    refuse("limits.admin_in_capsule_data_size", std::to_string(limits.admin_in_capsule_data_size),
           "must hold the 1024-byte Connect data");
  if (limits.send_timeout_ms != 0 && (limits.send_timeout_ms < 100 || limits.send_timeout_ms > 3600000))
    refuse("limits.send_timeout_ms", std::to_string(limits.send_timeout_ms), "must be 0 (off) or from 100 ms to 1 hour");
  if (max_io_queues < 1 || max_io_queues > 1024)
    refuse("max_io_queues", std::to_string(max_io_queues), "must be from 1 to 1024");
  std::set<int> seen;
  for (int c : cores) {
    if (c < 0) refuse("cores", std::to_string(c), "CPU numbers are not negative");
    if (!seen.insert(c).second) refuse("cores", std::to_string(c), "listed twice");
  }
}

std::uint64_t parse_size(const std::string& text) {
  std::size_t used = 0;
  unsigned long long value = 0;
  try {
    if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0]))) throw std::invalid_argument(text);
    value = std::stoull(text, &used);
  } catch (const std::logic_error&) {
    throw std::invalid_argument("size '" + text + "': not a number (use e.g. 512M, 1G)");
  }
  std::string suffix = text.substr(used);
  if (suffix.size() >= 2 && (suffix.substr(suffix.size() - 2) == "iB" || suffix.substr(suffix.size() - 2) == "ib"))
    suffix.resize(suffix.size() - 2);
  else if (suffix.size() == 2 && (suffix[1] == 'B' || suffix[1] == 'b'))
    suffix.resize(1);
  unsigned shift = 0;
  if (suffix.empty() || suffix == "B") shift = 0;
  else if (suffix == "K" || suffix == "k") shift = 10;
  else if (suffix == "M" || suffix == "m") shift = 20;
  else if (suffix == "G" || suffix == "g") shift = 30;
  else if (suffix == "T" || suffix == "t") shift = 40;
  else throw std::invalid_argument("size '" + text + "': unknown suffix '" + text.substr(used) + "' (K, M, G, T)");
  if (shift && value > (~0ULL >> shift)) throw std::invalid_argument("size '" + text + "': too large");
  return static_cast<std::uint64_t>(value) << shift;
}

NamespaceConfig parse_namespace(const std::string& text, std::uint32_t block_size) {
  if (text.rfind("fault:", 0) == 0) {
    const auto question = text.find('?');
    if (question == std::string::npos || question + 1 == text.size())
      throw std::invalid_argument("namespace '" + text + "': expected fault:BACKEND?FAULTS (e.g. fault:ram:64M?read_error=lba:0-99)");
    NamespaceConfig ns = parse_namespace(text.substr(6, question - 6), block_size);
    ns.faults = text.substr(question + 1);
    try {
      parse_fault_spec(ns.faults);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument("namespace '" + text + "': " + e.what());
    }
    return ns;
  }
  NamespaceConfig ns;
  ns.block_size = block_size;
  auto colon = text.find(':');
  if (colon == std::string::npos)
    throw std::invalid_argument("namespace '" + text + "': expected ram:SIZE, null:SIZE, file:PATH, blk:PATH or nvme:PATH");
  const std::string kind = text.substr(0, colon), arg = text.substr(colon + 1);
  if (arg.empty()) throw std::invalid_argument("namespace '" + text + "': missing size or path after ':'");
  if (kind == "ram" || kind == "null") {
    ns.kind = kind == "ram" ? BackendKind::ram : BackendKind::null;
    // "ram:1G,prefault,huge_pages": memory options after the size.
    const auto comma = arg.find(',');
    ns.size = parse_size(arg.substr(0, comma));
    for (auto at = comma; at != std::string::npos;) {
      const auto next = arg.find(',', at + 1);
      const std::string option = arg.substr(at + 1, next == std::string::npos ? std::string::npos : next - at - 1);
      if (kind == "ram" && option == "prefault") ns.prefault = true;
      else if (kind == "ram" && option == "huge_pages") ns.huge_pages = true;
      else
        throw std::invalid_argument("namespace '" + text + "': unknown option '" + option + "'" +
                                    (kind == "ram" ? " (prefault, huge_pages)" : " (null takes none)"));
      at = next;
    }
    if (ns.huge_pages && !ns.prefault)
      throw std::invalid_argument("namespace '" + text + "': huge_pages needs prefault (ram:SIZE,prefault,huge_pages)");
  } else if (kind == "file" || kind == "blk" || kind == "nvme") {
    ns.kind = kind == "file" ? BackendKind::file : kind == "blk" ? BackendKind::blk : BackendKind::nvme;
    ns.path = arg;
  } else {
    throw std::invalid_argument("namespace '" + text + "': unknown kind '" + kind + "' (ram, null, file, blk or nvme)");
  }
  return ns;
}

fabric::ListenAddress parse_listen_address(const std::string& full_text) {
  // An optional ",tls=required|allowed|none" after the address sets the port's secure channel policy.
  std::string text = full_text;
  fabric::TlsPolicy tls = fabric::TlsPolicy::none;
  if (auto comma = full_text.find(','); comma != std::string::npos) {
    text = full_text.substr(0, comma);
    const std::string option = full_text.substr(comma + 1);
    if (option == "tls=required") tls = fabric::TlsPolicy::required;
    else if (option == "tls=allowed") tls = fabric::TlsPolicy::allowed;
    else if (option != "tls=none")
      throw std::invalid_argument("listen address '" + full_text + "': expected ,tls=required, ,tls=allowed or ,tls=none");
    if (text.rfind("tcp:", 0) != 0 && tls != fabric::TlsPolicy::none)
      throw std::invalid_argument("listen address '" + full_text + "': TLS is an NVMe/TCP secure channel");
  }
  fabric::ListenAddress a = parse_plain_listen_address(text);
  a.tls = tls;
  return a;
}

fabric::ListenAddress parse_plain_listen_address(const std::string& text) {
  const std::string usage =
      "listen address '" + text +
      "': expected tcp:ADDR:PORT, rdma:ADDR:PORT or ofi:PROVIDER:ADDR:PORT (IPv6: tcp:[ADDR]:PORT)";
  fabric::ListenAddress a;
  std::string rest;
  if (text.rfind("tcp:", 0) == 0) {
    rest = text.substr(4);
  } else if (text.rfind("rdma:", 0) == 0) {
    a.trtype = fabric::TransportType::rdma;
    rest = text.substr(5);
  } else if (text.rfind("ofi:", 0) == 0) {
    // NVMe/RDMA capsules over the named libfabric provider (fabric/ofi/): ofi:tcp:127.0.0.1:4420
    a.trtype = fabric::TransportType::ofi;
    const auto colon = text.find(':', 4);
    a.provider = colon == std::string::npos ? "" : text.substr(4, colon - 4);
    if (a.provider.empty() || a.provider.find_first_of("[]") != std::string::npos)
      throw std::invalid_argument(usage + " (no libfabric provider named)");
    rest = text.substr(colon + 1);
  } else {
    throw std::invalid_argument(usage);
  }
  std::size_t port_colon;
  if (!rest.empty() && rest[0] == '[') {
    auto close = rest.find(']');
    if (close == std::string::npos || close + 1 >= rest.size() || rest[close + 1] != ':')
      throw std::invalid_argument(usage);
    a.ipv6 = true;
    a.traddr = rest.substr(1, close - 1);
    port_colon = close + 1;
  } else {
    port_colon = rest.rfind(':');
    if (port_colon == std::string::npos) throw std::invalid_argument(usage);
    a.traddr = rest.substr(0, port_colon);
    if (a.traddr.find(':') != std::string::npos)
      throw std::invalid_argument(usage + " (put IPv6 addresses in brackets)");
  }
  a.trsvcid = rest.substr(port_colon + 1);
  unsigned char buf[16];
  if (inet_pton(a.ipv6 ? AF_INET6 : AF_INET, a.traddr.c_str(), buf) != 1)
    throw std::invalid_argument("listen address '" + text + "': '" + a.traddr + "' is not an IP address");
  if (a.trsvcid.empty() || a.trsvcid.size() > 5 ||
      !std::all_of(a.trsvcid.begin(), a.trsvcid.end(), [](unsigned char c) { return std::isdigit(c); }) ||
      std::stoul(a.trsvcid) > 65535)
    throw std::invalid_argument("listen address '" + text + "': port '" + a.trsvcid + "' is not 0-65535");
  return a;
}

std::array<std::uint8_t, 16> parse_uuid(const std::string& text) {
  std::string hex;
  for (char c : text)
    if (c != '-') hex += c;
  if (hex.size() != 32 || !std::all_of(hex.begin(), hex.end(), [](unsigned char c) { return std::isxdigit(c); }))
    throw std::invalid_argument("'" + text + "' is not 16 bytes of hex (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)");
  std::array<std::uint8_t, 16> out{};
  for (std::size_t i = 0; i < 16; ++i) out[i] = static_cast<std::uint8_t>(std::stoul(hex.substr(2 * i, 2), nullptr, 16));
  return out;
}

std::string format_uuid(const std::array<std::uint8_t, 16>& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += digits[bytes[i] >> 4];
    out += digits[bytes[i] & 0xF];
  }
  return out;
}

}  // namespace nvmf::target
