// Start-up plumbing shared by both sides: addresses, sockets, CPU pinning, CPU time. Errors here throw: they
// happen before any message moves.
#pragma once
#include <sys/socket.h>

#include <cstdint>
#include <string>

namespace nvmf::bench {

struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
};

/// "127.0.0.1:4420" or "[::1]:4420".
SocketAddress parse_address(const std::string& text);
/// A listening TCP socket (SO_REUSEADDR, backlog 16).
int listen_on(const SocketAddress& address);
/// A connected TCP socket with TCP_NODELAY, retrying for up to `retry_ms` while the server is not yet up.
int connect_to(const SocketAddress& address, int retry_ms);
/// TCP_NODELAY, as both the Linux nvme-tcp host and nvmet-tcp set it.
void set_nodelay(int fd);
/// Pin the calling thread to `cpu` (-1: leave as is).
void pin_to_cpu(int cpu);

/// CPU time of the calling thread, in microseconds.
struct CpuTime {
  std::uint64_t user_us = 0;
  std::uint64_t system_us = 0;
  static CpuTime of_this_thread();
  CpuTime operator-(const CpuTime& earlier) const {
    return {user_us - earlier.user_us, system_us - earlier.system_us};
  }
  double seconds() const { return static_cast<double>(user_us + system_us) / 1e6; }
};

}  // namespace nvmf::bench
