// The control socket: a UNIX stream socket through which `nvmf target-ctl` changes a running target. One JSON
// request per connection (a single line), one JSON reply (a single line), then the server closes. The socket
// is created with mode 0600 and every peer is checked with SO_PEERCRED: only root or the user that owns the
// target process may talk to it. The server runs on its own thread, never on a reactor: requests open
// backends and bind sockets, which may block.
#pragma once
#include <string>

#include "target/accept_thread.hpp"

namespace nvmf::target {

class Target;

class ControlServer {
 public:
  /// Binds `path` (creating its directory, replacing a stale socket); throws std::runtime_error naming the path
  /// (already served by a live target, no permission).
  ControlServer(Target& target, std::string path);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  const std::string& path() const { return path_; }
  /// Stops serving and removes the socket file. Idempotent.
  void stop();

 private:
  void serve(int fd);

  Target& target_;
  const std::string path_;
  AcceptThread acceptor_;  ///< declared last: stopped (joined) before the members serve() uses go
};

}  // namespace nvmf::target
