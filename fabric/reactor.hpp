// One io_uring event loop per core. Everything a queue pair does (socket I/O, backend I/O, timers) runs on the
// reactor that owns it, run to completion, so the data path needs no locks. Other threads reach a reactor only
// through post(), which is for the control path (a new connection, a configuration change, shutdown).
#pragma once
#include <liburing.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "fabric/adaptive_poll.hpp"
#include "fabric/buffer_pool.hpp"
#include "fabric/io_op.hpp"
#include "fabric/timer_wheel.hpp"

namespace nvmf::fabric {

/// io_uring features probed at start-up, each read by a user that has a fallback (Debian 12's 6.1 kernel and
/// liburing 2.3 must work as well as newer ones). Probe only what something reads.
struct UringFeatures {
  bool multishot_accept = false;  ///< IORING_ACCEPT_MULTISHOT (5.19); the TCP listener
};

struct ReactorOptions {
  unsigned ring_entries = 1024;
  bool busy_poll = false;          ///< Spin on the completion queue instead of sleeping in io_uring_enter
  /// Without busy_poll: the largest window to keep polling after work before sleeping (fabric/adaptive_poll.hpp);
  /// zero: sleep at once (pure interrupt mode).
  std::chrono::microseconds adaptive_poll{kDefaultAdaptivePoll};
  int cpu = -1;                    ///< Pin the reactor thread to this CPU (-1: leave unpinned)
  std::size_t buffer_size = 128 * 1024;  ///< Size of each data buffer in the reactor's pool (the MDTS)
};

class Reactor {
 public:
  explicit Reactor(unsigned index, const ReactorOptions& options = {});
  ~Reactor();
  Reactor(const Reactor&) = delete;
  Reactor& operator=(const Reactor&) = delete;

  /// A free SQE bound to `op` (user_data = &op); submits pending SQEs first if the ring is full. Never null.
  io_uring_sqe* sqe(IoOp& op);
  /// A free SQE whose completion is ignored (used for fire-and-forget cancels and closes).
  io_uring_sqe* sqe_ignored();

  /// Run until stop() is called; returns after pending posted tasks have run.
  void run();
  /// Process whatever is ready, waiting at most `timeout` for something to happen. Returns the number of
  /// completions handled (tests and single-threaded tools drive a reactor with this).
  unsigned run_once(std::chrono::milliseconds timeout);
  /// Ask run() to return. Safe from any thread.
  void stop();
  bool stopping() const { return stop_requested_.load(std::memory_order_acquire); }

  /// Run `task` on this reactor's thread at its next turn. Safe from any thread; control path only.
  void post(std::function<void()> task);
  /// Run `task` at the end of the current turn, on this thread (breaks recursion in completion chains).
  void defer(std::function<void()> task);

  /// Busy-poll reactors: `fn(owner)` runs once every turn until remove_poller(owner), for completion queues that
  /// are read by polling (fabric/ofi). On this reactor's thread; never per I/O.
  using PollFn = void (*)(void* owner);
  void add_poller(PollFn fn, void* owner);
  void remove_poller(void* owner);

  /// One-shot timer on this reactor; returns an id for cancel_timer. Control path (keep-alive, timeouts).
  TimerWheel::Id add_timer(std::chrono::milliseconds delay, std::function<void()> fn);
  /// The same with microsecond resolution (the fault backend's injected delays).
  TimerWheel::Id add_timer_us(std::chrono::microseconds delay, std::function<void()> fn);
  void cancel_timer(TimerWheel::Id id);

  /// When the current turn's completions were collected: one clock read per turn, which the data path uses
  /// as the arrival time of the commands it receives (the target's latency statistics).
  std::chrono::steady_clock::time_point turn_time() const { return turn_time_; }
  /// The time for stamping I/O (latency statistics, both roles): inside a turn the clock is read at the first
  /// call and the rest of the turn reuses it, so a batch of completions and the requests their callbacks issue
  /// share one read (a read costs 0.03-0.05 us here: several percent of a 4 KiB I/O's CPU when done per I/O).
  /// Outside a turn (an application submitting between turns) every call reads the clock.
  std::chrono::steady_clock::time_point now() {
    if (!in_turn_) return std::chrono::steady_clock::now();
    if (!now_read_) {
      now_ = std::chrono::steady_clock::now();
      now_read_ = true;
    }
    return now_;
  }

  unsigned index() const { return index_; }
  const UringFeatures& features() const { return features_; }
  BufferPool& buffers() { return buffers_; }
  io_uring& ring() { return ring_; }
  bool busy_poll() const { return options_.busy_poll; }
  /// Adaptive polling's counts: turns whose work polling caught before sleeping, and sleeps in io_uring_enter.
  std::uint64_t poll_catches() const { return poll_catches_; }
  std::uint64_t sleeps() const { return sleeps_; }
  int cpu() const { return options_.cpu; }

  /// The reactor running on the calling thread, or nullptr.
  static Reactor* current();

 private:
  static void on_wakeup(IoOp& op, std::int32_t res, std::uint32_t flags);
  void arm_wakeup();
  void run_posted();
  void run_deferred();
  unsigned reap();
  /// Submits, then polls the completion queue for up to `budget`; true when something became ready.
  bool poll_for(TimerWheel::Clock::duration budget);

  unsigned index_;
  ReactorOptions options_;
  io_uring ring_{};
  UringFeatures features_;
  BufferPool buffers_;
  TimerWheel timers_;
  std::chrono::steady_clock::time_point turn_time_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point now_{};
  bool now_read_ = false;
  bool in_turn_ = false;  ///< Between the wait and the end of run_once()
  AdaptivePoll adaptive_;
  std::uint64_t poll_catches_ = 0;
  std::uint64_t sleeps_ = 0;

  int wake_fd_ = -1;
  std::uint64_t wake_value_ = 0;
  IoOp wake_op_;
  std::atomic<bool> stop_requested_{false};
  std::mutex posted_mutex_;
  std::vector<std::function<void()>> posted_;
  std::vector<std::function<void()>> posted_swap_;
  struct Poller {
    PollFn fn;
    void* owner;
  };
  std::vector<Poller> pollers_;  ///< Removed ones have fn == nullptr until the end of the turn
  static constexpr std::size_t kDeferredReserve = 512;
  std::vector<std::function<void()>> deferred_;
  std::vector<std::function<void()>> deferred_swap_;
};

/// A set of reactors, one thread each. Connections are spread across them round-robin.
class ReactorGroup {
 public:
  /// One reactor per listed CPU (empty list: one per online CPU).
  explicit ReactorGroup(const std::vector<int>& cpus, ReactorOptions options = {});
  ~ReactorGroup();

  void start();  ///< Start one thread per reactor
  void stop();   ///< Stop every reactor and join its thread
  std::size_t size() const { return reactors_.size(); }
  Reactor& at(std::size_t i) { return *reactors_[i]; }
  Reactor& next();  ///< Round-robin choice for a new connection

 private:
  std::vector<std::unique_ptr<Reactor>> reactors_;
  std::vector<std::thread> threads_;
  std::atomic<std::size_t> next_{0};
};

/// Parse "0,2-3" into {0,2,3}; throws std::invalid_argument naming the bad part.
std::vector<int> parse_cpu_list(const std::string& text);

}  // namespace nvmf::fabric
