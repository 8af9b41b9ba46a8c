// The thread behind the control socket and the metrics endpoint: it accepts one connection at a time on a
// listening socket, hands it to the server's serve function, and closes it. Kept off the reactors because serving
// may block (opening backends, binding sockets, slow peers). stop() wakes the poll through an eventfd.
#pragma once
#include <atomic>
#include <functional>
#include <thread>

namespace nvmf::target {

class AcceptThread {
 public:
  AcceptThread() = default;
  ~AcceptThread() { stop(); }
  AcceptThread(const AcceptThread&) = delete;
  AcceptThread& operator=(const AcceptThread&) = delete;

  /// Takes `listen_fd` (listening already) and starts the thread; `what` names the server in log lines.
  /// Returns 0, or the errno of a failed eventfd, in which case `listen_fd` is closed and nothing runs.
  int start(int listen_fd, const char* what, std::function<void(int fd)> serve);
  /// Stops the thread and closes the listening socket. Returns true for the call that stopped it (idempotent).
  bool stop();

 private:
  void run();

  int listen_fd_ = -1;
  int wake_fd_ = -1;
  const char* what_ = "";
  std::function<void(int)> serve_;
  std::thread thread_;
  std::atomic<bool> stopped_{false};
};

}  // namespace nvmf::target
