// Socket addresses for the NVMe/TCP listener and host queue: parsing TRADDR/TRSVCID and printing peers.
#pragma once
#include <sys/socket.h>

#include <string>

namespace nvmf::fabric::tcp {

struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family() const { return storage.ss_family; }
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

/// Numeric IPv4 or IPv6 address (no name resolution) and a decimal port 0-65535. False with *error set otherwise.
bool parse_socket_address(const std::string& traddr, const std::string& trsvcid, SocketAddress* out,
                          std::string* error);
/// "127.0.0.1:4420" or "[::1]:4420".
std::string format_socket_address(const sockaddr* addr);
std::string peer_name(int fd);
std::string local_name(int fd);
int local_port(int fd);

}  // namespace nvmf::fabric::tcp
