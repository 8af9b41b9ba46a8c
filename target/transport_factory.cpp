#include "target/transport_factory.hpp"

#include <stdexcept>

#if __has_include("fabric/tcp/listener.hpp")
#include "fabric/tcp/listener.hpp"
#define NVMF_TARGET_HAVE_TCP 1
#endif
#ifdef NVMF_HAVE_RDMA
#include "fabric/rdma/listener.hpp"
#endif
#ifdef NVMF_HAVE_OFI
#include "fabric/ofi/listener.hpp"
#endif

namespace nvmf::target {

std::unique_ptr<fabric::Listener> listen_on(fabric::ReactorGroup& group, const fabric::ListenAddress& address,
                                            const fabric::TransportLimits& limits,
                                            fabric::QueueHandlerFactory& factory,
                                            const std::shared_ptr<const fabric::tls::ServerContext>& tls) {
  if (address.trtype == fabric::TransportType::rdma) {
#ifdef NVMF_HAVE_RDMA
    return fabric::listen_rdma(group, address, limits, factory);
#else
    throw std::runtime_error("cannot listen on " + address.to_string() + ": built without the RDMA transport");
#endif
  }
  if (address.trtype == fabric::TransportType::ofi) {
#ifdef NVMF_HAVE_OFI
    return fabric::listen_ofi(group, address, limits, factory);
#else
    throw std::runtime_error("cannot listen on " + address.to_string() + ": built without the ofi transport");
#endif
  }
#ifdef NVMF_TARGET_HAVE_TCP
  fabric::tcp::ControllerQueueConfig config;
  config.limits = limits;
  if (address.tls != fabric::TlsPolicy::none) config.tls = tls;
  return fabric::listen_tcp(group, address, config, factory);
#else
  (void)group, (void)limits, (void)factory, (void)tls;
  throw std::runtime_error("cannot listen on " + address.to_string() + ": the TCP transport is not built");
#endif
}

}  // namespace nvmf::target
