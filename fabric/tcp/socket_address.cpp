#include "fabric/tcp/socket_address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

namespace nvmf::fabric::tcp {

bool parse_socket_address(const std::string& traddr, const std::string& trsvcid, SocketAddress* out,
                          std::string* error) {
  char* end = nullptr;
  unsigned long port = std::strtoul(trsvcid.c_str(), &end, 10);
  if (trsvcid.empty() || *end != '\0' || port > 65535) {
    if (error) *error = "invalid port '" + trsvcid + "' (want 0-65535)";
    return false;
  }
  *out = SocketAddress{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out->storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out->storage);
  if (inet_pton(AF_INET, traddr.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<std::uint16_t>(port));
    out->length = sizeof *v4;
    return true;
  }
  std::string host = traddr;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<std::uint16_t>(port));
    out->length = sizeof *v6;
    return true;
  }
  if (error) *error = "invalid address '" + traddr + "' (want a numeric IPv4 or IPv6 address)";
  return false;
}

std::string format_socket_address(const sockaddr* addr) {
  char text[INET6_ADDRSTRLEN] = "?";
  if (addr->sa_family == AF_INET) {
    auto* v4 = reinterpret_cast<const sockaddr_in*>(addr);
    inet_ntop(AF_INET, &v4->sin_addr, text, sizeof text);
    return std::string(text) + ":" + std::to_string(ntohs(v4->sin_port));
  }
  if (addr->sa_family == AF_INET6) {
    auto* v6 = reinterpret_cast<const sockaddr_in6*>(addr);
    inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text);
    std::string out = "[";  // built piecewise: g++ 12 warns (-Wrestrict) on "[" + std::string(...)
    out += text;
    out += "]:";
    out += std::to_string(ntohs(v6->sin6_port));
    return out;
  }
  return "unknown";
}

std::string peer_name(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "unknown";
  return format_socket_address(reinterpret_cast<sockaddr*>(&ss));
}

std::string local_name(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "unknown";
  return format_socket_address(reinterpret_cast<sockaddr*>(&ss));
}

int local_port(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return -1;
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return -1;
}

}  // namespace nvmf::fabric::tcp
