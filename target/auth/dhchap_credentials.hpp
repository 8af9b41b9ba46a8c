// From a host's configuration (HostConfig's dhchap_* fields, as text) to the credentials one DH-HMAC-CHAP
// transaction uses, and the validation that refuses bad values up front. Errors name the field and the reason,
// never the secret.
#pragma once
#include <optional>
#include <string>

#include "target/auth/dhchap_controller.hpp"
#include "target/config.hpp"

namespace nvmf::target {

/// Throws ConfigError on an unreadable secret, an unknown hash or DH group, or a controller key without a host
/// key. `field` prefixes the names ("hosts[0]").
void validate_dhchap(const HostConfig& host, const std::string& field);
/// The credentials of a host with a DH-HMAC-CHAP key; nullopt when it has none (no authentication).
std::optional<DhchapCredentials> dhchap_credentials(const HostConfig& host);

}  // namespace nvmf::target
