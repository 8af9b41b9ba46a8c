#include "initiator/transport_factory.hpp"

#include "fabric/tcp/host_queue.hpp"
#if NVMF_WITH_RDMA
#include "fabric/rdma/host_queue.hpp"
#endif
#if NVMF_WITH_OFI
#include "fabric/ofi/host_queue.hpp"
#endif

namespace nvmf::initiator {

namespace {
// "ofi" (provider tcp) or "ofi:PROVIDER": NVMe/RDMA capsules over libfabric (fabric/ofi/). Empty when not ofi.
std::string ofi_provider(const std::string& transport) {
  if (transport == "ofi") return "tcp";
  if (transport.rfind("ofi:", 0) == 0 && transport.size() > 4) return transport.substr(4);
  return {};
}
}  // namespace

bool transport_supported(const std::string& transport) {
  return transport == "tcp" || (NVMF_WITH_RDMA && transport == "rdma") ||
         (NVMF_WITH_OFI && !ofi_provider(transport).empty());
}

const char* supported_transports() {
  return NVMF_WITH_OFI ? "tcp, rdma, ofi[:PROVIDER]" : NVMF_WITH_RDMA ? "tcp, rdma" : "tcp";
}

std::unique_ptr<fabric::HostQueue> connect_host_queue(const std::string& transport, fabric::Reactor& reactor,
                                                      const fabric::HostQueueOptions& options, std::uint16_t qid,
                                                      std::uint16_t cntlid, std::uint32_t in_capsule_limit,
                                                      std::string* error) {
  if (transport == "tcp") {
    auto queue = fabric::connect_tcp_host_queue(reactor, options, error);
    if (queue) queue->set_in_capsule_limit(in_capsule_limit);
    return queue;
  }
#if NVMF_WITH_RDMA
  if (transport == "rdma") {
    auto queue = fabric::connect_rdma_host_queue(reactor, options, qid, cntlid, error);
    // No in-capsule data until the controller's IOCCSZ is known: the Connect data (and every admin command's)
    // goes by keyed SGL, as the Linux host sends it; I/O queues get IOCCSZ's share after their Connect.
    (void)in_capsule_limit;
    if (queue) queue->set_in_capsule_limit(0);
    return queue;
  }
#endif
#if NVMF_WITH_OFI
  if (const std::string provider = ofi_provider(transport); !provider.empty()) {
    auto queue = fabric::ofi::connect_ofi_host_queue(reactor, provider, options, qid, cntlid, error);
    // As over RDMA: no in-capsule data until the controller's IOCCSZ is known.
    if (queue) queue->set_in_capsule_limit(0);
    return queue;
  }
#endif
  (void)qid;
  (void)cntlid;
  if (error) *error = "transport '" + transport + "' is not supported by this build (supported: " +
                      supported_transports() + ")";
  return nullptr;
}

}  // namespace nvmf::initiator
