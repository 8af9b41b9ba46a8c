#include "fabric/timer_wheel.hpp"

namespace nvmf::fabric {

TimerWheel::Id TimerWheel::add(Clock::time_point deadline, std::function<void()> fn) {
  Id id = next_id_++;
  heap_.push(Entry{deadline, id, std::move(fn)});
  live_.insert(id);
  return id;
}

void TimerWheel::cancel(Id id) { live_.erase(id); }

unsigned TimerWheel::run_due(Clock::time_point now) {
  unsigned ran = 0;
  while (!heap_.empty() && heap_.top().deadline <= now) {
    Entry e = heap_.top();
    heap_.pop();
    if (live_.erase(e.id) == 0) continue;  // cancelled
    e.fn();
    ++ran;
  }
  // Drop cancelled entries at the top so until_next() sees a live deadline.
  while (!heap_.empty() && !live_.count(heap_.top().id)) heap_.pop();
  return ran;
}

TimerWheel::Clock::duration TimerWheel::until_next(Clock::time_point now) const {
  if (heap_.empty()) return Clock::duration::max();
  auto d = heap_.top().deadline;
  return d <= now ? Clock::duration::zero() : d - now;
}

}  // namespace nvmf::fabric
