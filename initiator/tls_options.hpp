// The host's TLS PSK from its options (nvme-cli --tls/--tls-key): the configured key read from the option or
// the file it names, then the identity and TLS PSK for this host and subsystem.
#pragma once
#include <memory>
#include <string>

#include "fabric/tls/tls_context.hpp"
#include "initiator/controller.hpp"

namespace nvmf::initiator {

/// The key text itself when it looks like one (NVMeTLSkey-...), else the first line of the file it names.
/// nullopt-like empty result with *why on failure (never quoting the key).
std::string read_tls_key_argument(const std::string& value, std::string* why);

/// nullptr with *why when no usable key is given (`--tls` alone needs a keyring, which is not read here).
std::shared_ptr<const fabric::tls::ClientContext> make_tls_client(const ControllerOptions& options,
                                                                 const std::string& hostnqn, std::string* why);

}  // namespace nvmf::initiator
