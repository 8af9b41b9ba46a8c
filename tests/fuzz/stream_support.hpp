// Support for the NVMe/TCP receive-path harnesses: the fuzz input is a byte stream from the peer, written into
// one end of a socketpair in pieces whose sizes come from a seed in the input, so PDUs are cut at arbitrary
// points; the queue under test owns the other end and receives through its own io_uring recv, exactly as from
// a TCP socket. Between pieces the reactor runs until nothing more happens.
//
// Input layout (both harnesses): [flags: 1 byte][cut seed: 4 bytes LE][stream...]
#pragma once
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "fabric/reactor.hpp"

namespace nvmf::fuzz {

struct StreamInput {
  std::uint8_t flags = 0;
  std::uint32_t seed = 0;
  const std::uint8_t* data = nullptr;
  std::size_t size = 0;

  static bool parse(const std::uint8_t* in, std::size_t len, StreamInput* out) {
    if (len < 5) return false;
    out->flags = in[0];
    out->seed = std::uint32_t(in[1]) | std::uint32_t(in[2]) << 8 | std::uint32_t(in[3]) << 16 |
                std::uint32_t(in[4]) << 24;
    out->data = in + 5;
    out->size = len - 5;
    return true;
  }
};

/// Piece sizes: mostly small (1-16 bytes: inside headers and digests), sometimes up to 1 KiB.
class Cutter {
 public:
  explicit Cutter(std::uint32_t seed) : state_(seed | 1) {}
  std::size_t next() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 17;
    state_ ^= state_ << 5;
    return (state_ & 3) == 0 ? 1 + (state_ >> 8) % 1024 : 1 + (state_ >> 8) % 16;
  }

 private:
  std::uint32_t state_;
};

/// Process whatever the queue has to do now (recv and send completions, deferred calls), without waiting.
inline void settle(fabric::Reactor& reactor) {
  for (int idle = 0, turns = 0; idle < 2 && turns < 1000; ++turns)
    idle = reactor.run_once(std::chrono::milliseconds(0)) ? 0 : idle + 1;
}

/// The peer's end of the socketpair (non-blocking): writes the stream, reads and drops what the queue sends.
class Peer {
 public:
  /// Returns the queue's end; -1 when the socketpair could not be made.
  int open() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return -1;
    fd_ = fds[0];
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
    return fds[1];
  }
  ~Peer() {
    if (fd_ >= 0) ::close(fd_);
  }
  /// Write all of [p, p + n), running the reactor whenever the socket buffer is full.
  void write(fabric::Reactor& reactor, const std::uint8_t* p, std::size_t n) {
    for (int stuck = 0; n > 0 && stuck < 100;) {
      ssize_t w = ::send(fd_, p, n, MSG_NOSIGNAL);
      if (w > 0) {
        p += w;
        n -= static_cast<std::size_t>(w);
        stuck = 0;
        continue;
      }
      if (w < 0 && errno != EAGAIN && errno != EINTR) return;  // the queue closed its end
      ++stuck;
      drain();
      reactor.run_once(std::chrono::milliseconds(1));
    }
  }
  void drain() {
    static std::uint8_t sink[64 * 1024];
    while (::recv(fd_, sink, sizeof sink, MSG_DONTWAIT) > 0) {
    }
  }
  /// End of the stream: the queue's next recv sees EOF.
  void shutdown_write() { ::shutdown(fd_, SHUT_WR); }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

/// Feed the stream in pieces, settling the reactor after each.
inline void feed(fabric::Reactor& reactor, Peer& peer, const std::uint8_t* p, std::size_t n, Cutter& cutter) {
  while (n > 0) {
    std::size_t piece = std::min(n, cutter.next());
    peer.write(reactor, p, piece);
    p += piece;
    n -= piece;
    settle(reactor);
    peer.drain();
  }
}

/// A state the harness cannot leave: a hang in the code under test. Abort so libFuzzer keeps the input.
[[noreturn]] inline void stuck(const char* what) {
  std::fprintf(stderr, "fuzz harness: %s\n", what);
  std::abort();
}

}  // namespace nvmf::fuzz
