// The ceiling's event loop: one io_uring, driven the way the reactor it bounds is driven. Interrupt mode sleeps
// in io_uring_submit_and_wait; poll mode never sleeps, it submits what is queued and peeks the completion queue.
#pragma once
#include <liburing.h>

#include <cstdint>
#include <string>

namespace nvmf::bench {

enum class WaitMode { interrupt, poll };

/// How completions' task work runs (io_uring_setup(2)). `defer` = SINGLE_ISSUER|DEFER_TASKRUN (6.1+): work runs
/// only when the thread asks for events, the cheapest choice for one thread per ring. `coop` = COOP_TASKRUN, what
/// fabric::Reactor uses. Both add TASKRUN_FLAG so that a polling loop learns that work is pending.
enum class TaskRun { defer, coop };

class Ring {
 public:
  Ring(WaitMode mode, TaskRun task_run, unsigned entries = 256);
  ~Ring();
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  /// A free SQE carrying `user_data`; submits what is queued first if the ring is full. Never null.
  io_uring_sqe* sqe(std::uint64_t user_data);

  /// One turn: submit what is queued, wait (interrupt) or peek (poll), call on_cqe(user_data, res) for each
  /// completion. Returns the number handled; 0 when a signal interrupted the wait or nothing was ready.
  template <typename OnCqe>
  unsigned turn(OnCqe&& on_cqe) {
    wait();
    unsigned count = 0;
    unsigned head;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      on_cqe(cqe->user_data, cqe->res);
      ++count;
    }
    io_uring_cq_advance(&ring_, count);
    return count;
  }

  WaitMode mode() const { return mode_; }
  /// The setup flags in effect, for the report ("defer_taskrun|single_issuer|taskrun_flag").
  const std::string& setup() const { return setup_; }

 private:
  void wait();

  io_uring ring_{};
  WaitMode mode_;
  std::string setup_;
};

}  // namespace nvmf::bench
