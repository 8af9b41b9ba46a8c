#include "target/accept_thread.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "fabric/log.hpp"

namespace nvmf::target {

int AcceptThread::start(int listen_fd, const char* what, std::function<void(int fd)> serve) {
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) {
    const int err = errno;
    ::close(listen_fd);
    stopped_ = true;
    return err;
  }
  listen_fd_ = listen_fd;
  what_ = what;
  serve_ = std::move(serve);
  thread_ = std::thread([this] { run(); });
  return 0;
}

bool AcceptThread::stop() {
  if (stopped_.exchange(true)) return false;
  std::uint64_t one = 1;
  if (wake_fd_ >= 0 && ::write(wake_fd_, &one, sizeof one) < 0)
    NVMF_LOG(warn, "%s: wake-up failed: %s", what_, std::strerror(errno));
  if (thread_.joinable()) thread_.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
  listen_fd_ = wake_fd_ = -1;
  return true;
}

void AcceptThread::run() {
  while (!stopped_.load()) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      NVMF_LOG(error, "%s: poll failed: %s", what_, std::strerror(errno));
      return;
    }
    if (fds[1].revents) return;
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    serve_(fd);
    ::close(fd);
  }
}

}  // namespace nvmf::target
