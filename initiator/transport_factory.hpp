// Picks the host transport by name ("tcp"; "rdma" once fabric/rdma exists) and connects one queue. Everything
// above this file sees only fabric::HostQueue.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "fabric/host_transport.hpp"
#include "fabric/reactor.hpp"

namespace nvmf::initiator {

/// Connect one queue (synchronous: drives `reactor` until the transport handshake is done). `in_capsule_limit`
/// is the largest write sent in-capsule on this queue. nullptr and *error filled on failure.
std::unique_ptr<fabric::HostQueue> connect_host_queue(const std::string& transport, fabric::Reactor& reactor,
                                                      const fabric::HostQueueOptions& options,
                                                      std::uint32_t in_capsule_limit, std::string* error);

/// Lower the in-capsule limit of a connected queue once the controller's IOCCSZ is known.
void set_in_capsule_limit(fabric::HostQueue& queue, std::uint32_t limit);

/// True when `transport` names a transport this build can connect with.
bool transport_supported(const std::string& transport);

}  // namespace nvmf::initiator
