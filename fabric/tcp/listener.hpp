// NVMe/TCP listener: a listening socket on reactor 0 accepting through io_uring (multishot where the kernel has
// it, re-armed single accepts otherwise); each new connection goes to the next reactor of the group, where its
// TcpControllerQueue and handler are created.
#pragma once
#include <memory>

#include "fabric/reactor.hpp"
#include "fabric/tcp/controller_queue.hpp"
#include "fabric/transport.hpp"

namespace nvmf::fabric {

/// Listen on address (IPv4 or IPv6, numeric; trsvcid "0" picks a free port, visible in address().trsvcid).
/// Throws std::system_error naming the address when the socket cannot be bound or listened on, and
/// std::invalid_argument when limits cannot be honoured (MAXH2CDATA >= 4096 and a multiple of 4; a reactor's
/// buffers must hold max_io_size). `factory` must outlive the listener and every connection it accepted.
std::unique_ptr<Listener> listen_tcp(ReactorGroup& group, const ListenAddress& address, const TransportLimits& limits,
                                     QueueHandlerFactory& factory);
/// Same, with the transport's own knobs (tests lower MAXH2CDATA to exercise R2T splits).
std::unique_ptr<Listener> listen_tcp(ReactorGroup& group, const ListenAddress& address,
                                     const tcp::ControllerQueueConfig& config, QueueHandlerFactory& factory);

}  // namespace nvmf::fabric
