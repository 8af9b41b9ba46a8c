// A stand-in transport for the initiator's unit tests: a HostQueue that holds what is submitted until the test
// completes it, and that can break like a lost connection. Lets IoQueue and MultipathQueue be tested without a
// network.
#pragma once

#include <deque>

#include "fabric/host_transport.hpp"
#include "fabric/reactor.hpp"
#include "initiator/error.hpp"

namespace nvmf::initiator::test {

class ScriptedQueue : public fabric::HostQueue {
 public:
  ScriptedQueue(fabric::Reactor& r, std::uint16_t depth) : reactor_(r), depth_(depth) {}
  bool submit(fabric::HostRequest& req) override {
    if (!alive_ || pending.size() >= depth_) return false;
    pending.push_back(&req);
    ++submitted;
    return true;
  }
  std::uint32_t outstanding() const override { return static_cast<std::uint32_t>(pending.size()); }
  std::uint16_t depth() const override { return depth_; }
  bool alive() const override { return alive_; }
  const fabric::HostQueueError& error() const override { return error_; }
  void close() override { fail("closed", kAbortedByHost); }
  fabric::Reactor& reactor() override { return reactor_; }
  std::uint32_t in_capsule_limit() const override { return in_capsule_limit_; }
  void set_in_capsule_limit(std::uint32_t limit) override { in_capsule_limit_ = limit; }

  /// The connection breaks: every command completes with a path error, as the TCP host queue reports it.
  void fail(const char* why, nvme::Status status = kHostPathError) {
    alive_ = false;
    error_.message = why;
    complete_all(status);
  }
  void complete_front(nvme::Status status) {
    fabric::HostRequest* req = pending.front();
    pending.pop_front();
    req->cqe = {};
    req->cqe.set_status(status);
    req->on_complete(*req);
  }
  void complete_all(nvme::Status status = {}) {
    while (!pending.empty()) complete_front(status);
  }

  std::deque<fabric::HostRequest*> pending;
  unsigned submitted = 0;

 private:
  fabric::Reactor& reactor_;
  std::uint16_t depth_;
  bool alive_ = true;
  fabric::HostQueueError error_;
  std::uint32_t in_capsule_limit_ = 8192;
};

/// Records the block API's completion callback.
struct Done {
  int calls = 0;
  nvme::Status status;
};
inline void on_done(void* arg, nvme::Status s) {
  auto* d = static_cast<Done*>(arg);
  ++d->calls;
  d->status = s;
}

}  // namespace nvmf::initiator::test
