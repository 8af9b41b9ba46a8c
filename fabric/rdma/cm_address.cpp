#include "fabric/rdma/cm_address.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <cstring>

namespace nvmf::fabric::rdma {

bool make_sockaddr(const std::string& traddr, const std::string& trsvcid, sockaddr_storage* out, std::string* error) {
  addrinfo hints{};
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  const char* node = traddr.empty() ? nullptr : traddr.c_str();
  int rc = getaddrinfo(node, trsvcid.c_str(), &hints, &result);
  if (rc != 0 || !result) {
    if (error) *error = "bad address '" + traddr + "' port '" + trsvcid + "': " + gai_strerror(rc);
    return false;
  }
  std::memset(out, 0, sizeof *out);
  std::memcpy(out, result->ai_addr, result->ai_addrlen);
  freeaddrinfo(result);
  return true;
}

std::string format_sockaddr(const sockaddr* address) {
  if (!address) return "?";
  char host[INET6_ADDRSTRLEN] = {};
  if (address->sa_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(address);
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    return std::string(host) + ":" + std::to_string(ntohs(in->sin_port));
  }
  if (address->sa_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(address);
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    std::string out = "[";  // built by append: GCC 12 warns falsely (-Wrestrict) on "[" + std::string(...)
    out.append(host).append("]:").append(std::to_string(ntohs(in6->sin6_port)));
    return out;
  }
  return "?";
}

}  // namespace nvmf::fabric::rdma
