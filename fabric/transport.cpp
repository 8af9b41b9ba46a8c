#include "fabric/transport.hpp"

namespace nvmf::fabric {

std::string ListenAddress::to_string() const {
  std::string kind = trtype == TransportType::rdma ? "rdma" : trtype == TransportType::ofi ? "ofi:" + provider : "tcp";
  return kind + ":" + (ipv6 ? "[" + traddr + "]" : traddr) + ":" + trsvcid;
}

}  // namespace nvmf::fabric
