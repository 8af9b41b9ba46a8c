// Opens a listener of the transport the address names (fabric/tcp, fabric/rdma). The one place in target/ that
// knows the concrete transports; everything else sees fabric::Listener and fabric::ControllerQueue.
#pragma once
#include <memory>

#include "fabric/reactor.hpp"
#include "fabric/tls/tls_context.hpp"
#include "fabric/transport.hpp"

namespace nvmf::target {

/// Listen on `address` with `limits`, handing each new connection to `factory`. `tls` is used on NVMe/TCP
/// addresses that allow or require TLS. Throws std::runtime_error naming the address when the transport is not
/// built or the listener cannot be opened.
std::unique_ptr<fabric::Listener> listen_on(fabric::ReactorGroup& group, const fabric::ListenAddress& address,
                                            const fabric::TransportLimits& limits,
                                            fabric::QueueHandlerFactory& factory,
                                            const std::shared_ptr<const fabric::tls::ServerContext>& tls);

}  // namespace nvmf::target
