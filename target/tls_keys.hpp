// The TLS PSK lookup a TCP listener asks during a handshake (identity -> TLS PSK), answered from the hosts'
// configured PSKs in the registry, so keys added or removed at run time apply to the next handshake.
#pragma once
#include <memory>

#include "fabric/tls/tls_context.hpp"
#include "target/registry.hpp"

namespace nvmf::target {

fabric::tls::PskLookup make_psk_lookup(std::weak_ptr<const Registry> registry);

}  // namespace nvmf::target
