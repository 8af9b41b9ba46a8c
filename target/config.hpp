// The target's configuration and its validation. validate() refuses bad values before anything starts, with
// a ConfigError naming the field (as "subsystems[0].namespaces[1].path"), the value and the reason. The parse_* helpers turn command-line spellings
// ("ram:1G", "tcp:[::1]:4420", "64K") into configuration values and throw std::invalid_argument the same way.
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "fabric/adaptive_poll.hpp"
#include "fabric/log.hpp"
#include "fabric/transport.hpp"
#include "target/ana.hpp"

namespace nvmf::target {

/// Subsystem NQN used when a subsystem is configured without one.
inline constexpr const char* kDefaultSubsystemNqn = "nqn.2024-01.io.nvmf:target";
inline constexpr const char* kDefaultModel = "nvmf toolkit target";
inline constexpr const char* kDefaultFirmware = "0.1.0";

/// NSIDs above this are refused; Identify Controller NN reports it, so namespaces added later fit (nvmet's
/// NVMET_MAX_NAMESPACES).
inline constexpr std::uint32_t kMaxNsid = 1024;
/// The largest adaptive-polling window accepted (10 ms: beyond it polling only burns the core).
inline constexpr std::uint32_t kMaxAdaptivePollUs = 10000;

/// A refused configuration value. `field` names it in the configuration's terms ("subsystems[0].nqn", or a
/// JSON pointer once located in a file); what() is "field: 'value': reason".
class ConfigError : public std::invalid_argument {
 public:
  ConfigError(std::string field, std::string value, std::string reason);
  const std::string& field() const { return field_; }
  const std::string& value() const { return value_; }
  const std::string& reason() const { return reason_; }
  /// The same error under another name ("subsystems[2]." + field, or a file and a JSON pointer).
  ConfigError renamed(const std::string& field) const { return ConfigError(field, value_, reason_); }

 private:
  std::string field_, value_, reason_;
};

enum class BackendKind { ram, null, file, blk, nvme };
const char* backend_kind_name(BackendKind kind);

struct NamespaceConfig {
  BackendKind kind = BackendKind::ram;
  std::uint64_t size = 0;        ///< Bytes (ram, null); otherwise the size comes from the file or device
  std::string path;              ///< file, blk (block device), nvme (generic char device /dev/ngXnY)
  std::uint32_t block_size = 512;  ///< 512 or 4096 (blk and nvme: the device's own)
  std::uint32_t nsid = 0;        ///< 0: the next NSID after the previous namespace of the subsystem
  /// Host NQNs that see this namespace (Identify, active list, I/O); empty: every host of the subsystem.
  std::vector<std::string> hosts = {};
  /// Identifiers to report instead of the derived ones (nvmetcli's device.nguid / device.uuid).
  std::optional<std::array<std::uint8_t, 16>> nguid = std::nullopt;
  std::optional<std::array<std::uint8_t, 16>> uuid = std::nullopt;
  /// Fault injection (target/backends/fault_spec.hpp): "read_error=lba:100-199,delay_us=500@p:0.1"; empty: none.
  std::string faults = {};
  /// ANA group (1..kMaxAnaGroups; nvmetcli's ana_grpid).
  std::uint32_t ana_grpid = kDefaultAnaGroup;
  /// Where reservations persist through power loss (PTPL, target/reservation_persistence.hpp); empty: no PTPL.
  std::string ptpl_file = {};
  /// ram only: commit and write all the memory at creation (no page faults in the data path; RSS = size).
  bool prefault = false;
  /// ram only, with prefault: transparent huge pages (MADV_HUGEPAGE) populated at creation.
  bool huge_pages = false;
};

struct SubsystemConfig {
  std::string nqn;                         ///< Empty: kDefaultSubsystemNqn
  std::string serial;                      ///< Empty: derived from the NQN
  std::string model = kDefaultModel;
  std::string firmware = kDefaultFirmware;
  std::vector<std::string> allowed_hosts;  ///< Empty: any host may connect
  std::vector<NamespaceConfig> namespaces;
  std::uint16_t cntlid_min = 1;       ///< Dynamic controller IDs handed out (nvmet's attr_cntlid_min/max)
  std::uint16_t cntlid_max = 0xFFEF;
};

/// What the target knows about one host, wherever it connects (nvmetcli's hosts/<nqn>): the credentials of the
/// secure channel (NVMe/TCP TLS PSK) and of in-band authentication (DH-HMAC-CHAP). Which subsystems a host may
/// reach stays in SubsystemConfig::allowed_hosts. Secrets here never reach a log, an error message or a file
/// other users can read: error texts name the field, never the value.
struct HostConfig {
  std::string nqn;
  // In-band authentication (DH-HMAC-CHAP, NVMe Base 8.13): fields added by that feature.
  std::string dhchap_key;       ///< Host secret "DHHC-1:HH:...:"; set: every queue of the host must authenticate
  std::string dhchap_ctrl_key;  ///< Controller secret: lets the host authenticate the controller too
  std::vector<std::string> dhchap_hashes;    ///< Allowed hashes ("sha256", "hmac(sha384)"); empty: all three
  std::vector<std::string> dhchap_dhgroups;  ///< Allowed DH groups ("null", "ffdhe2048" ...); empty: all six
  // Secure channel (TLS PSK, TP 8011): fields added by that feature.
  /// Configured TLS PSK in interchange format (NVMeTLSkey-1:HH:<base64>:); empty: this host has no TLS key.
  std::string tls_psk;
};

/// A discovery referral: another discovery service the discovery log points hosts to (SUBTYPE 1).
struct ReferralConfig {
  fabric::ListenAddress address;
  std::uint16_t portid = 0;  ///< PORTID reported in the entry
};

struct TargetConfig {
  std::vector<fabric::ListenAddress> listeners;  ///< I/O ports; the discovery service answers on them too
  /// Listener index -> the only subsystems it serves (nvmetcli's ports[].subsystems); absent: every subsystem.
  std::map<std::size_t, std::vector<std::string>> listener_subsystems;
  /// Listener index -> ANA group -> that port's state for it (nvmetcli's ports[].ana_groups); absent: optimized.
  std::map<std::size_t, std::map<std::uint32_t, AnaState>> listener_ana_states;
  std::vector<ReferralConfig> referrals;
  std::uint16_t discovery_port = 8009;  ///< One extra discovery-only listener per listener address; 0: none
  std::vector<SubsystemConfig> subsystems;
  std::vector<HostConfig> hosts;       ///< Per-host credentials; a host not listed has none
  std::vector<int> cores;              ///< One reactor per listed CPU; empty: one per online CPU
  fabric::TransportLimits limits;
  std::uint16_t max_io_queues = 16;    ///< Per controller (Set Features Number of Queues grants at most this)
  bool busy_poll = false;
  /// Without busy_poll: the largest adaptive-polling window in microseconds (fabric/adaptive_poll.hpp); 0: none
  std::uint32_t adaptive_poll_us = static_cast<std::uint32_t>(fabric::kDefaultAdaptivePoll.count());
  log::Level log_level = log::Level::info;
  std::string control_socket;          ///< UNIX socket path for live changes; empty: none
  std::optional<fabric::ListenAddress> metrics;  ///< Prometheus endpoint (tcp:ADDR:PORT); absent: none

  /// Throws ConfigError on the first bad value.
  void validate() const;
};

/// Checks one subsystem (defaults resolved or not); `field` prefixes the names in the error ("subsystems[0]").
void validate_subsystem(const SubsystemConfig& config, const std::string& field);
/// Checks one namespace of a subsystem.
void validate_namespace(const NamespaceConfig& ns, const std::string& field);
/// Checks one host entry.
void validate_host(const HostConfig& host, const std::string& field);
/// Checks a listen or referral address.
void validate_address(const fabric::ListenAddress& address, const std::string& field);
void check_nqn(const std::string& field, const std::string& nqn);

/// The effective NQN, serial and NSIDs of a subsystem after defaults (what the target really serves).
SubsystemConfig resolve_defaults(const SubsystemConfig& config);

/// "4096", "64K", "1M", "2G", "1T" (binary multiples; an optional "iB"/"B" suffix is accepted).
std::uint64_t parse_size(const std::string& text);
/// "ram:SIZE", "null:SIZE", "file:PATH", "blk:PATH" (block device), "nvme:PATH" (NVMe generic char device);
/// "ram:SIZE,prefault" and "ram:SIZE,prefault,huge_pages" set the RAM memory options;
/// "fault:BACKEND?FAULTS" is BACKEND with fault injection ("fault:ram:64M?read_error=lba:1000-1999").
NamespaceConfig parse_namespace(const std::string& text, std::uint32_t block_size);
/// "tcp:ADDR:PORT" or "rdma:ADDR:PORT" with ADDR an IPv4 address or a bracketed IPv6 one ("tcp:[::1]:4420").
/// An optional ",tls=required", ",tls=allowed" or ",tls=none" suffix sets the TCP port's TLS policy.
fabric::ListenAddress parse_listen_address(const std::string& text);
/// The address without options.
fabric::ListenAddress parse_plain_listen_address(const std::string& text);
/// "01234567-89ab-cdef-0123-456789abcdef" or 32 hex digits.
std::array<std::uint8_t, 16> parse_uuid(const std::string& text);
std::string format_uuid(const std::array<std::uint8_t, 16>& bytes);

}  // namespace nvmf::target
