#include "bench/ceiling/endpoint.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <stdexcept>
#include <system_error>
#include <thread>

namespace nvmf::bench {

SocketAddress parse_address(const std::string& text) {
  SocketAddress out;
  std::string host;
  std::string port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find("]:");
    if (close == std::string::npos) throw std::invalid_argument("address '" + text + "': want [IPV6]:PORT");
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string::npos) throw std::invalid_argument("address '" + text + "': want HOST:PORT");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  std::size_t used = 0;
  unsigned long number = 0;
  try {
    number = std::stoul(port, &used);
  } catch (const std::logic_error&) {
    used = 0;
  }
  if (used == 0 || used != port.size() || number > 65535)
    throw std::invalid_argument("address '" + text + "': port '" + port + "' is not 0..65535");
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out.storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<std::uint16_t>(number));
    out.length = sizeof *v4;
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<std::uint16_t>(number));
    out.length = sizeof *v6;
  } else {
    throw std::invalid_argument("address '" + text + "': '" + host + "' is not a numeric IPv4 or IPv6 address");
  }
  return out;
}

int listen_on(const SocketAddress& address) {
  int fd = ::socket(address.storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket");
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&address.storage), address.length) < 0 || ::listen(fd, 16) < 0) {
    int e = errno;
    ::close(fd);
    throw std::system_error(e, std::generic_category(), "bind/listen");
  }
  return fd;
}

int connect_to(const SocketAddress& address, int retry_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(retry_ms);
  for (;;) {
    int fd = ::socket(address.storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket");
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&address.storage), address.length) == 0) {
      set_nodelay(fd);
      return fd;
    }
    int e = errno;
    ::close(fd);
    if (e != ECONNREFUSED || std::chrono::steady_clock::now() >= deadline)
      throw std::system_error(e, std::generic_category(), "connect");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void set_nodelay(int fd) {
  int one = 1;
  if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
    throw std::system_error(errno, std::generic_category(), "setsockopt(TCP_NODELAY)");
}

void pin_to_cpu(int cpu) {
  if (cpu < 0) return;
  if (cpu >= CPU_SETSIZE) throw std::invalid_argument("cpu " + std::to_string(cpu) + " out of range");
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) < 0)
    throw std::system_error(errno, std::generic_category(), "sched_setaffinity(cpu " + std::to_string(cpu) + ")");
}

CpuTime CpuTime::of_this_thread() {
  rusage ru{};
  getrusage(RUSAGE_THREAD, &ru);
  auto us = [](const timeval& tv) {
    return static_cast<std::uint64_t>(tv.tv_sec) * 1000000u + static_cast<std::uint64_t>(tv.tv_usec);
  };
  return {us(ru.ru_utime), us(ru.ru_stime)};
}

}  // namespace nvmf::bench
