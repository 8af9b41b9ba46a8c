#include "target/control_server.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "fabric/log.hpp"
#include "target/control_requests.hpp"

namespace nvmf::target {

namespace {
/// The request as logged: secrets (TLS PSKs) replaced, wherever they sit.
nlohmann::json redacted(nlohmann::json j) {
  if (j.is_object()) {
    for (auto& [key, value] : j.items()) {
      // Secrets: TLS PSKs and DH-HMAC-CHAP keys never reach the log.
      if (key == "tls_psk" || key == "dhchap_key" || key == "dhchap_ctrl_key") value = "(redacted)";
      else value = redacted(value);
    }
  } else if (j.is_array()) {
    for (auto& value : j) value = redacted(value);
  }
  return j;
}
}  // namespace

namespace {
constexpr std::size_t kMaxRequest = 1 << 20;
constexpr int kPeerTimeoutMs = 5000;  ///< A client that stalls mid-request does not hold the socket forever

std::runtime_error socket_error(const std::string& path, const std::string& what, int err) {
  return std::runtime_error("control socket " + path + ": " + what + ": " + std::strerror(err));
}

sockaddr_un address_of(const std::string& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.size() >= sizeof a.sun_path) throw std::runtime_error("control socket " + path + ": path too long");
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  return a;
}

/// A socket file another process still accepts on must not be stolen; a stale one is replaced.
bool in_use(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un a = address_of(path);
  bool live = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return live;
}

bool write_all(int fd, const std::string& text) {
  std::size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::send(fd, text.data() + off, text.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}
}  // namespace

ControlServer::ControlServer(Target& target, std::string path) : target_(target), path_(std::move(path)) {
  sockaddr_un a = address_of(path_);
  if (auto slash = path_.rfind('/'); slash != std::string::npos && slash > 0) {
    const std::string dir = path_.substr(0, slash);
    if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) throw socket_error(path_, "cannot create " + dir, errno);
  }
  struct stat st {};
  if (lstat(path_.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) throw std::runtime_error("control socket " + path_ + ": exists and is not a socket");
    if (in_use(path_)) throw std::runtime_error("control socket " + path_ + ": another target is serving it");
    ::unlink(path_.c_str());
  }
  const int listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd < 0) throw socket_error(path_, "socket", errno);
  // Created 0600 from the start (umask), not chmod-ed after bind: no window where others could connect.
  const mode_t old = umask(0177);
  int rc = bind(listen_fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  int err = errno;
  umask(old);
  if (rc != 0 || listen(listen_fd, 16) != 0) {
    if (rc == 0) err = errno;
    ::close(listen_fd);
    throw socket_error(path_, "cannot listen", err);
  }
  if (int err = acceptor_.start(listen_fd, "control socket", [this](int fd) { serve(fd); }); err != 0) {
    ::unlink(path_.c_str());
    throw socket_error(path_, "eventfd", err);
  }
  NVMF_LOG(info, "control socket %s ready", path_.c_str());
}

ControlServer::~ControlServer() { stop(); }

void ControlServer::stop() {
  if (acceptor_.stop()) ::unlink(path_.c_str());
}

void ControlServer::serve(int fd) {
  // The request is read before the peer is checked, also for a refused peer: closing a UNIX socket with unread
  // data resets the connection, and the client would lose the refusal's reason to ECONNRESET or EPIPE.
  std::string text;
  char buf[4096];
  while (text.find('\n') == std::string::npos && text.size() < kMaxRequest) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, kPeerTimeoutMs) <= 0) return;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  // Only root or the user running the target (who owns the socket) may change it.
  ucred cred{};
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || (cred.uid != 0 && cred.uid != geteuid())) {
    const std::string reason = "permission denied: uid " + std::to_string(cred.uid) +
                               " is neither root nor the target's user (uid " + std::to_string(geteuid()) + ")";
    NVMF_LOG(warn, "control socket: refused a client (pid %d): %s", static_cast<int>(cred.pid), reason.c_str());
    write_all(fd, nlohmann::json{{"ok", false}, {"error", {{"field", ""}, {"value", ""}, {"reason", reason}}}}.dump() +
                      "\n");
    return;
  }
  nlohmann::json reply;
  try {
    auto request = nlohmann::json::parse(text.substr(0, text.find('\n')));
    // Read-only requests are logged at debug level: `target-ctl top` sends one every second.
    const bool named = request.is_object() && request.contains("op") && request["op"].is_string();
    const std::string op = named ? request["op"].get<std::string>() : "";
    if (op == "stats" || op == "list" || op == "list-controllers")
      NVMF_LOG(debug, "control socket: %s", redacted(request).dump().c_str());
    else
      NVMF_LOG(info, "control socket: %s", redacted(request).dump().c_str());
    reply = handle_control_request(target_, request);
  } catch (const nlohmann::json::parse_error& e) {
    reply = {{"ok", false}, {"error", {{"field", ""}, {"value", ""}, {"reason", std::string("not JSON: ") + e.what()}}}};
  }
  write_all(fd, reply.dump() + "\n");
}

}  // namespace nvmf::target
