#include "fabric/reactor.hpp"

#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <system_error>

namespace nvmf::fabric {

namespace {
thread_local Reactor* t_current = nullptr;

// Completions of SQEs whose result nobody needs.
IoOp g_ignored_op{[](IoOp&, std::int32_t, std::uint32_t) {}};

UringFeatures probe_features(io_uring& ring) {
  UringFeatures f;
  // Multishot accept came with URING_CMD (5.19); the flag cannot be probed directly, so the opcode of the same
  // release stands in for it.
  if (io_uring_probe* probe = io_uring_get_probe_ring(&ring)) {
    f.multishot_accept = io_uring_opcode_supported(probe, IORING_OP_URING_CMD);
    io_uring_free_probe(probe);
  }
  return f;
}
}  // namespace

Reactor::Reactor(unsigned index, const ReactorOptions& options)
    : index_(index), options_(options), buffers_(options.buffer_size), adaptive_(options.adaptive_poll) {
  // COOP_TASKRUN avoids interrupting the reactor thread for completions it will reap anyway (5.19+);
  // TASKRUN_FLAG tells a busy-polling reactor when such deferred work waits for it to enter the kernel
  // (without it a spinning thread only runs socket completions at its next timer tick).
  unsigned flags = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
  int rc = io_uring_queue_init(options_.ring_entries, &ring_, flags);
  if (rc == -EINVAL) {
    flags = 0;
    rc = io_uring_queue_init(options_.ring_entries, &ring_, flags);
  }
  if (rc < 0) throw std::system_error(-rc, std::generic_category(), "io_uring_queue_init");
  features_ = probe_features(ring_);
  // Deferred calls are per I/O on the capsule transports (ofi, rdma): room for a burst of them up front, so a new
  // high-water mark under load does not grow the vectors on the data path.
  deferred_.reserve(kDeferredReserve);
  deferred_swap_.reserve(kDeferredReserve);

  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
  wake_op_.handler = &Reactor::on_wakeup;
  arm_wakeup();
}

Reactor::~Reactor() {
  io_uring_queue_exit(&ring_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

Reactor* Reactor::current() { return t_current; }

io_uring_sqe* Reactor::sqe(IoOp& op) {
  io_uring_sqe* s = io_uring_get_sqe(&ring_);
  while (!s) {
    io_uring_submit(&ring_);
    s = io_uring_get_sqe(&ring_);
  }
  io_uring_sqe_set_data(s, &op);
  return s;
}

io_uring_sqe* Reactor::sqe_ignored() { return sqe(g_ignored_op); }

void Reactor::arm_wakeup() {
  io_uring_prep_read(sqe(wake_op_), wake_fd_, &wake_value_, sizeof wake_value_, 0);
}

void Reactor::on_wakeup(IoOp& op, std::int32_t, std::uint32_t) {
  auto& self = owner_of(&Reactor::wake_op_, op);
  self.arm_wakeup();
  self.run_posted();
}

void Reactor::post(std::function<void()> task) {
  {
    std::lock_guard lock(posted_mutex_);
    posted_.push_back(std::move(task));
  }
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
}

void Reactor::defer(std::function<void()> task) { deferred_.push_back(std::move(task)); }

void Reactor::run_posted() {
  {
    std::lock_guard lock(posted_mutex_);
    posted_swap_.swap(posted_);
  }
  for (auto& t : posted_swap_) t();
  posted_swap_.clear();
}

void Reactor::run_deferred() {
  while (!deferred_.empty()) {
    deferred_swap_.swap(deferred_);
    for (auto& t : deferred_swap_) t();
    deferred_swap_.clear();
  }
}

TimerWheel::Id Reactor::add_timer(std::chrono::milliseconds delay, std::function<void()> fn) {
  return timers_.add(TimerWheel::Clock::now() + delay, std::move(fn));
}

TimerWheel::Id Reactor::add_timer_us(std::chrono::microseconds delay, std::function<void()> fn) {
  return timers_.add(TimerWheel::Clock::now() + delay, std::move(fn));
}

void Reactor::cancel_timer(TimerWheel::Id id) { timers_.cancel(id); }

void Reactor::stop() {
  stop_requested_.store(true, std::memory_order_release);
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
}

void Reactor::add_poller(PollFn fn, void* owner) { pollers_.push_back({fn, owner}); }

void Reactor::remove_poller(void* owner) {
  for (auto& p : pollers_)
    if (p.owner == owner) p.fn = nullptr;
}

unsigned Reactor::reap() {
  unsigned count = 0;
  io_uring_cqe* cqe;
  unsigned head;
  // Handlers may queue new SQEs; they are submitted at the next turn.
  io_uring_for_each_cqe(&ring_, head, cqe) {
    auto* op = static_cast<IoOp*>(io_uring_cqe_get_data(cqe));
    std::int32_t res = cqe->res;
    std::uint32_t flags = cqe->flags;
    io_uring_cqe_seen(&ring_, cqe);  // before the handler: it may re-enter the ring
    if (op && op->handler) op->handler(*op, res, flags);
    ++count;
  }
  return count;
}

namespace {
/// Completions waiting as task work (COOP_TASKRUN) or in the overflow list only appear once the thread enters
/// the kernel; the ring's flags say when there are any.
bool completions_held_in_kernel(const io_uring& ring) {
  return IO_URING_READ_ONCE(*ring.sq.kflags) & (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW);
}

/// Tells the core (and its hyperthread sibling) that this is a spin loop.
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}
}  // namespace

bool Reactor::poll_for(TimerWheel::Clock::duration budget) {
  io_uring_submit(&ring_);  // what this turn queued (responses, sends) goes out before the poll, not after
  const auto deadline = TimerWheel::Clock::now() + budget;
  for (;;) {
    if (io_uring_cq_ready(&ring_) > 0) return true;
    if (completions_held_in_kernel(ring_)) {
      io_uring_get_events(&ring_);
      continue;
    }
    if (TimerWheel::Clock::now() >= deadline) return false;
    cpu_relax();
  }
}

unsigned Reactor::run_once(std::chrono::milliseconds timeout) {
  Reactor* previous = t_current;
  t_current = this;
  in_turn_ = false;
  run_deferred();
  auto now = TimerWheel::Clock::now();
  auto wait = std::min<TimerWheel::Clock::duration>(timeout, timers_.until_next(now));
  bool no_sleep = options_.busy_poll || wait <= TimerWheel::Clock::duration::zero();
  if (!no_sleep && io_uring_cq_ready(&ring_) == 0) {
    // Adaptive polling: work that arrives within the window is taken without a wake-up.
    const auto budget = std::min(wait, adaptive_.budget(now));
    if (budget > TimerWheel::Clock::duration::zero()) {
      no_sleep = poll_for(budget);
      if (no_sleep) {
        ++poll_catches_;
      } else {
        wait -= TimerWheel::Clock::now() - now;
        no_sleep = wait <= TimerWheel::Clock::duration::zero();
      }
    }
  }
  if (no_sleep) {
    io_uring_submit(&ring_);
    if (io_uring_cq_ready(&ring_) == 0 && completions_held_in_kernel(ring_)) io_uring_get_events(&ring_);
  } else {
    ++sleeps_;
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(wait).count();
    __kernel_timespec ts{ns / 1000000000, ns % 1000000000};
    io_uring_cqe* cqe = nullptr;
    int rc = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
    if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY)
      throw std::system_error(-rc, std::generic_category(), "io_uring_submit_and_wait_timeout");
  }
  // Read once per turn, before the completions: the arrival time of what they deliver, and the timers' now.
  turn_time_ = TimerWheel::Clock::now();
  in_turn_ = true;
  now_read_ = false;
  unsigned n = reap();
  if (n > 0) adaptive_.note_work(turn_time_);
  if (!pollers_.empty()) {
    // By index: a poll may add pollers (a queue accepted); removed ones are dropped after the round.
    for (std::size_t i = 0; i < pollers_.size(); ++i)
      if (pollers_[i].fn) pollers_[i].fn(pollers_[i].owner);
    std::erase_if(pollers_, [](const Poller& p) { return p.fn == nullptr; });
  }
  timers_.run_due(turn_time_);
  run_deferred();
  in_turn_ = false;
  t_current = previous;
  return n;
}

void Reactor::run() {
  while (!stopping()) run_once(std::chrono::milliseconds(1000));
  run_once(std::chrono::milliseconds(0));
  run_posted();
}

// ---------------------------------------------------------------------------------------------------------------

ReactorGroup::ReactorGroup(const std::vector<int>& cpus, ReactorOptions options) {
  std::vector<int> list = cpus;
  if (list.empty()) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    for (long i = 0; i < (n > 0 ? n : 1); ++i) list.push_back(static_cast<int>(i));
  }
  for (std::size_t i = 0; i < list.size(); ++i) {
    ReactorOptions o = options;
    o.cpu = list[i];
    reactors_.push_back(std::make_unique<Reactor>(static_cast<unsigned>(i), o));
  }
}

ReactorGroup::~ReactorGroup() { stop(); }

void ReactorGroup::start() {
  for (auto& r : reactors_) {
    Reactor* reactor = r.get();
    threads_.emplace_back([reactor] {
      pthread_setname_np(pthread_self(), ("nvmf-r" + std::to_string(reactor->index())).c_str());
      if (int cpu = reactor->cpu(); cpu >= 0 && cpu < CPU_SETSIZE) {
        // A CPU outside the allowed mask only costs placement: the reactor still runs.
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        pthread_setaffinity_np(pthread_self(), sizeof set, &set);
      }
      reactor->run();
    });
  }
}

void ReactorGroup::stop() {
  for (auto& r : reactors_) r->stop();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

Reactor& ReactorGroup::next() { return *reactors_[next_.fetch_add(1, std::memory_order_relaxed) % reactors_.size()]; }

std::vector<int> parse_cpu_list(const std::string& text) {
  std::vector<int> out;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t comma = text.find(',', pos);
    std::string part = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    if (part.empty()) throw std::invalid_argument("empty element in CPU list '" + text + "'");
    std::size_t dash = part.find('-');
    try {
      std::size_t used = 0;
      int first = std::stoi(part.substr(0, dash), &used);
      if (used != (dash == std::string::npos ? part.size() : dash)) throw std::invalid_argument(part);
      int last = first;
      if (dash != std::string::npos) {
        std::string tail = part.substr(dash + 1);
        last = std::stoi(tail, &used);
        if (used != tail.size()) throw std::invalid_argument(part);
      }
      if (first < 0 || last < first) throw std::invalid_argument(part);
      for (int c = first; c <= last; ++c) out.push_back(c);
    } catch (const std::logic_error&) {
      throw std::invalid_argument("bad element '" + part + "' in CPU list '" + text + "' (want N or N-M)");
    }
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

}  // namespace nvmf::fabric
