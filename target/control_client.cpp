#include "target/control_client.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace nvmf::target {

nlohmann::json control_request(const std::string& socket_path, const nlohmann::json& request) {
  auto fail = [&](const std::string& what, int err) {
    return std::runtime_error("control socket " + socket_path + ": " + what + (err ? std::string(": ") + std::strerror(err) : ""));
  };
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof a.sun_path) throw fail("path too long", 0);
  std::memcpy(a.sun_path, socket_path.c_str(), socket_path.size() + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw fail("socket", errno);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    int err = errno;
    ::close(fd);
    throw fail("cannot connect (is `nvmf target` running with this --control-socket?)", err);
  }
  const std::string text = request.dump() + "\n";
  std::size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::send(fd, text.data() + off, text.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      ::close(fd);
      throw fail("send", err);
    }
    off += static_cast<std::size_t>(n);
  }
  std::string reply;
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    reply.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  try {
    return nlohmann::json::parse(reply);
  } catch (const nlohmann::json::parse_error&) {
    throw fail("the reply is not JSON: '" + reply + "'", 0);
  }
}

}  // namespace nvmf::target
