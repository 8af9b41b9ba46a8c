// Timers for one reactor: a min-heap of deadlines. Control-path use (keep-alive, I/O timeouts, reconnect),
// so a std::function per timer is fine.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <queue>
#include <unordered_set>
#include <vector>

namespace nvmf::fabric {

class TimerWheel {
 public:
  using Clock = std::chrono::steady_clock;
  using Id = std::uint64_t;

  Id add(Clock::time_point deadline, std::function<void()> fn);
  void cancel(Id id);
  /// Run every timer due at `now`; returns how many ran.
  unsigned run_due(Clock::time_point now);
  /// Time until the next deadline (zero if due), or nullopt-equivalent max() when none.
  Clock::duration until_next(Clock::time_point now) const;
  bool empty() const { return live_.empty(); }

 private:
  struct Entry {
    Clock::time_point deadline;
    Id id;
    std::function<void()> fn;
    bool operator>(const Entry& o) const { return deadline > o.deadline || (deadline == o.deadline && id > o.id); }
  };
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> heap_;
  std::unordered_set<Id> live_;
  Id next_id_ = 1;
};

}  // namespace nvmf::fabric
