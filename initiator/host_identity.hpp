// Who the host says it is in every Connect: host NQN and 16-byte host ID. Resolved the way nvme-cli does:
// explicit options first, then /etc/nvme/hostnqn and /etc/nvme/hostid (through libnvme), else generated.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>

namespace nvmf::initiator {

struct HostIdentity {
  std::string hostnqn;
  std::array<std::uint8_t, 16> hostid{};

  std::string hostid_string() const;  ///< Canonical UUID text, lowercase
};

/// "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" to 16 bytes in text order; nullopt when malformed.
std::optional<std::array<std::uint8_t, 16>> parse_uuid(const std::string& text);
std::string format_uuid(const std::array<std::uint8_t, 16>& bytes);

/// Resolve the identity. An empty argument means "not given". Throws std::invalid_argument for a malformed
/// explicit host ID (configuration error).
HostIdentity resolve_host_identity(const std::string& hostnqn, const std::string& hostid);

}  // namespace nvmf::initiator
