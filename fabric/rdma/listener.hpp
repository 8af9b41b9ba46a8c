// Controller side of NVMe/RDMA: listen on an rdma_cm address, validate each connect request's private data
// (rejecting with the NVMe/RDMA reject status of the first bad field), and hand every accepted connection to a
// reactor of the group (round-robin) as an RdmaControllerQueue. The listening event channel is watched through
// the io_uring of one reactor: no thread and no CPU while idle.
#pragma once
#include <memory>

#include "fabric/reactor.hpp"
#include "fabric/transport.hpp"

namespace nvmf::fabric {

/// Start listening. Throws std::runtime_error naming the address and the cause when the address cannot be
/// bound (no RDMA device on it, port in use). `factory` must outlive the listener and every queue it creates.
std::unique_ptr<Listener> listen_rdma(ReactorGroup& group, const ListenAddress& address,
                                      const TransportLimits& limits, QueueHandlerFactory& factory);

}  // namespace nvmf::fabric
