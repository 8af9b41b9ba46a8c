// Addresses for rdma_cm: "10.0.0.1" / "4420" to a sockaddr, and back to "10.0.0.1:4420" for logs.
#pragma once
#include <sys/socket.h>

#include <string>

namespace nvmf::fabric::rdma {

/// Numeric IPv4 or IPv6 address and port (no name lookups). False and *error filled when malformed.
bool make_sockaddr(const std::string& traddr, const std::string& trsvcid, sockaddr_storage* out, std::string* error);
/// "10.0.0.1:4420" or "[fe80::1]:4420"; "?" when unknown.
std::string format_sockaddr(const sockaddr* address);

}  // namespace nvmf::fabric::rdma
