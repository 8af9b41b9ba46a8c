// The ofi transport's listener: a passive endpoint of the named provider with an event queue watched by one
// reactor. Each FI_CONNREQ's private data is the NVMe/RDMA connect request (QID, HRQSIZE, HSQSIZE, CNTLID; NVMe/RDMA
// transport spec 3.3), validated as over RDMA; a bad one is refused with fi_reject carrying the NVMe/RDMA reject
// record, a good one is accepted by a new OfiControllerQueue on the next reactor.
#pragma once
#include <memory>

#include "fabric/reactor.hpp"
#include "fabric/transport.hpp"

namespace nvmf::fabric {

/// Listen on address.traddr:trsvcid with provider address.provider. Throws std::runtime_error naming the address
/// and the libfabric error on failure.
std::unique_ptr<Listener> listen_ofi(ReactorGroup& group, const ListenAddress& address, const TransportLimits& limits,
                                     QueueHandlerFactory& factory);

}  // namespace nvmf::fabric
