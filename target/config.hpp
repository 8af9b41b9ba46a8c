// The target's configuration and its validation. validate() refuses bad values before anything starts, with
// an exception naming the field, the value and the reason. The parse_* helpers turn command-line spellings
// ("ram:1G", "tcp:[::1]:4420", "64K") into configuration values and throw std::invalid_argument the same way.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "fabric/log.hpp"
#include "fabric/transport.hpp"

namespace nvmf::target {

/// Subsystem NQN used when a subsystem is configured without one.
inline constexpr const char* kDefaultSubsystemNqn = "nqn.2024-01.io.nvmf:target";
inline constexpr const char* kDefaultModel = "nvmf toolkit target";
inline constexpr const char* kDefaultFirmware = "0.1.0";

enum class BackendKind { ram, null, file };

struct NamespaceConfig {
  BackendKind kind = BackendKind::ram;
  std::uint64_t size = 0;        ///< Bytes (ram, null); a file's size comes from the file
  std::string path;              ///< file only
  std::uint32_t block_size = 512;  ///< 512 or 4096
  std::uint32_t nsid = 0;        ///< 0: the next NSID after the previous namespace of the subsystem
};

struct SubsystemConfig {
  std::string nqn;                         ///< Empty: kDefaultSubsystemNqn
  std::string serial;                      ///< Empty: derived from the NQN
  std::string model = kDefaultModel;
  std::string firmware = kDefaultFirmware;
  std::vector<std::string> allowed_hosts;  ///< Empty: any host may connect
  std::vector<NamespaceConfig> namespaces;
};

struct TargetConfig {
  std::vector<fabric::ListenAddress> listeners;  ///< I/O ports; the discovery service answers on them too
  std::uint16_t discovery_port = 8009;  ///< One extra discovery-only listener per listener address; 0: none
  std::vector<SubsystemConfig> subsystems;
  std::vector<int> cores;              ///< One reactor per listed CPU; empty: one per online CPU
  fabric::TransportLimits limits;
  std::uint16_t max_io_queues = 16;    ///< Per controller (Set Features Number of Queues grants at most this)
  bool busy_poll = false;
  log::Level log_level = log::Level::info;

  /// Throws std::invalid_argument("field: value: reason") on the first bad value.
  void validate() const;
};

/// The effective NQN, serial and NSIDs of a subsystem after defaults (what the target really serves).
SubsystemConfig resolve_defaults(const SubsystemConfig& config);

/// "4096", "64K", "1M", "2G", "1T" (binary multiples; an optional "iB"/"B" suffix is accepted).
std::uint64_t parse_size(const std::string& text);
/// "ram:SIZE", "null:SIZE", "file:PATH".
NamespaceConfig parse_namespace(const std::string& text, std::uint32_t block_size);
/// "tcp:ADDR:PORT" with ADDR an IPv4 address or a bracketed IPv6 one ("tcp:[::1]:4420").
fabric::ListenAddress parse_listen_address(const std::string& text);

}  // namespace nvmf::target
