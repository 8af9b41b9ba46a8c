// Picks the host transport by name ("tcp"; "rdma" when built with rdma-core; "ofi" or "ofi:PROVIDER" when built
// with libfabric) and connects one queue.
// Everything above this file sees only fabric::HostQueue.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "fabric/host_transport.hpp"
#include "fabric/reactor.hpp"

namespace nvmf::initiator {

/// Connect queue `qid` of controller `cntlid` (FFFFh for the admin queue before the controller exists): the
/// transport handshake only (NVMe/TCP ICReq/ICResp, NVMe/RDMA rdma_cm with the private data that names qid
/// and cntlid); the fabrics Connect command is the caller's. Synchronous: drives `reactor` until done.
/// `in_capsule_limit` is the largest write sent in-capsule. nullptr and *error filled on failure.
std::unique_ptr<fabric::HostQueue> connect_host_queue(const std::string& transport, fabric::Reactor& reactor,
                                                      const fabric::HostQueueOptions& options, std::uint16_t qid,
                                                      std::uint16_t cntlid, std::uint32_t in_capsule_limit,
                                                      std::string* error);

/// True when `transport` names a transport this build can connect with.
bool transport_supported(const std::string& transport);

/// The transports this build supports, for help texts: "tcp" or "tcp, rdma".
const char* supported_transports();

}  // namespace nvmf::initiator
