#include "bench/ceiling/ring.hpp"

#include <cerrno>
#include <system_error>

namespace nvmf::bench {

namespace {
struct SetupChoice {
  unsigned flags;
  const char* name;
};
}  // namespace

Ring::Ring(WaitMode mode, TaskRun task_run, unsigned entries) : mode_(mode) {
  // Newest first, each falling back to what an older kernel accepts (EINVAL for an unknown flag).
  const SetupChoice defer{IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
                          "single_issuer|defer_taskrun|taskrun_flag"};
  const SetupChoice coop{IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG, "coop_taskrun|taskrun_flag"};
  const SetupChoice plain{0, "none"};
  SetupChoice choices[3] = {defer, coop, plain};
  int first = task_run == TaskRun::defer ? 0 : 1;
  int rc = -EINVAL;
  for (int i = first; i < 3 && rc == -EINVAL; ++i) {
    rc = io_uring_queue_init(entries, &ring_, choices[i].flags);
    if (rc == 0) setup_ = choices[i].name;
  }
  if (rc < 0) throw std::system_error(-rc, std::generic_category(), "io_uring_queue_init");
}

Ring::~Ring() { io_uring_queue_exit(&ring_); }

io_uring_sqe* Ring::sqe(std::uint64_t user_data) {
  io_uring_sqe* s = io_uring_get_sqe(&ring_);
  while (!s) {
    io_uring_submit(&ring_);
    s = io_uring_get_sqe(&ring_);
  }
  io_uring_sqe_set_data64(s, user_data);
  return s;
}

void Ring::wait() {
  int rc;
  if (mode_ == WaitMode::interrupt) {
    rc = io_uring_submit_and_wait(&ring_, 1);
  } else {
    rc = io_uring_sq_ready(&ring_) ? io_uring_submit(&ring_) : 0;
    // Completions of socket I/O arrive as task work; without entering the kernel a spinning thread would see
    // them only at the next timer tick. TASKRUN_FLAG makes the kernel say when work is pending.
    if (rc >= 0 && io_uring_cq_ready(&ring_) == 0 &&
        (IO_URING_READ_ONCE(*ring_.sq.kflags) & (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW)))
      rc = io_uring_get_events(&ring_);
  }
  if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY && rc != -ETIME)
    throw std::system_error(-rc, std::generic_category(), "io_uring_enter");
}

}  // namespace nvmf::bench
