#include "target/metrics_server.hpp"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include "fabric/log.hpp"
#include "target/metrics_exposition.hpp"

namespace nvmf::target {

namespace {
constexpr std::size_t kMaxRequestHead = 8192;
constexpr auto kRequestTimeout = std::chrono::seconds(5);

std::runtime_error metrics_error(const std::string& where, const std::string& what, int err) {
  return std::runtime_error("metrics endpoint " + where + ": " + what + ": " + std::strerror(err));
}

void write_all(int fd, const std::string& text) {
  std::size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::send(fd, text.data() + off, text.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += static_cast<std::size_t>(n);
  }
}

std::string response(const char* status, const std::string& type, const std::string& body, bool head_only) {
  std::string out = std::string("HTTP/1.1 ") + status + "\r\nContent-Type: " + type +
                    "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
  if (!head_only) out += body;
  return out;
}
}  // namespace

MetricsServer::MetricsServer(const Registry& registry, const fabric::ListenAddress& address) : registry_(registry) {
  const std::string where = address.to_string();
  if (address.trtype != fabric::TransportType::tcp) throw std::runtime_error("metrics endpoint " + where + ": must be tcp:ADDR:PORT");
  addrinfo hints{};
  hints.ai_family = address.ipv6 ? AF_INET6 : AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
  addrinfo* ai = nullptr;
  if (int rc = getaddrinfo(address.traddr.c_str(), address.trsvcid.c_str(), &hints, &ai); rc != 0)
    throw std::runtime_error("metrics endpoint " + where + ": " + gai_strerror(rc));
  const int listen_fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd < 0) {
    freeaddrinfo(ai);
    throw metrics_error(where, "socket", errno);
  }
  int one = 1;
  setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const int rc = bind(listen_fd, ai->ai_addr, ai->ai_addrlen);
  freeaddrinfo(ai);
  if (rc != 0 || listen(listen_fd, 16) != 0) {
    const int err = errno;
    ::close(listen_fd);
    throw metrics_error(where, "cannot listen", err);
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  getsockname(listen_fd, reinterpret_cast<sockaddr*>(&bound), &len);
  const std::uint16_t port = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                                                : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  fabric::ListenAddress actual = address;
  actual.trsvcid = std::to_string(port);
  bound_ = actual.to_string();
  if (int err = acceptor_.start(listen_fd, "metrics endpoint", [this](int fd) { serve(fd); }); err != 0)
    throw metrics_error(where, "eventfd", err);
  NVMF_LOG(info, "metrics endpoint %s ready (GET /metrics)", bound_.c_str());
}

MetricsServer::~MetricsServer() { stop(); }

void MetricsServer::stop() { acceptor_.stop(); }

void MetricsServer::serve(int fd) {
  // Read the request head (up to the blank line); a body, which GET does not have, is never read.
  std::string head;
  char buf[2048];
  auto too_large = [&] {
    write_all(fd, response("431 Request Header Fields Too Large", "text/plain", "request too large\n", false));
    // Close gracefully: unread input at close() would reset the connection and lose the reply. Bounded.
    ::shutdown(fd, SHUT_WR);
    for (int i = 0; i < 64; ++i) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 200) <= 0 || ::recv(fd, buf, sizeof buf, 0) <= 0) break;
    }
  };
  const auto deadline = std::chrono::steady_clock::now() + kRequestTimeout;
  std::size_t end = std::string::npos;
  while ((end = head.find("\r\n\r\n")) == std::string::npos && (end = head.find("\n\n")) == std::string::npos) {
    if (head.size() > kMaxRequestHead) return too_large();
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) <= 0) return;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    head.append(buf, static_cast<std::size_t>(n));
  }
  if (end > kMaxRequestHead) return too_large();
  // Request line: METHOD SP TARGET SP VERSION (RFC 9112 section 3).
  const std::string line = head.substr(0, head.find_first_of("\r\n"));
  const auto sp1 = line.find(' ');
  const auto sp2 = sp1 == std::string::npos ? std::string::npos : line.find(' ', sp1 + 1);
  if (sp2 == std::string::npos || line.compare(sp2 + 1, 5, "HTTP/") != 0)
    return write_all(fd, response("400 Bad Request", "text/plain", "malformed request line\n", false));
  const std::string method = line.substr(0, sp1);
  std::string path = line.substr(sp1 + 1, sp2 - sp1 - 1);
  path = path.substr(0, path.find('?'));  // scrapers may add parameters; there are none to honour
  const bool head_only = method == "HEAD";
  if (method != "GET" && !head_only) {
    std::string r = response("405 Method Not Allowed", "text/plain", "only GET\n", false);
    r.insert(r.find("\r\n") + 2, "Allow: GET, HEAD\r\n");
    return write_all(fd, r);
  }
  if (path != "/metrics") return write_all(fd, response("404 Not Found", "text/plain", "not found; try /metrics\n", head_only));
  write_all(fd, response("200 OK", "text/plain; version=0.0.4; charset=utf-8", metrics_exposition(registry_), head_only));
}

}  // namespace nvmf::target
