// Adaptive polling: how long a reactor keeps polling its completion queue after work before it sleeps.
//
// Sleeping in io_uring_enter costs a wake-up on every arrival (an interrupt, a scheduler switch, a cache-cold
// thread): at queue depth 1 each round trip pays it twice per side. Busy-polling removes it but burns the core
// all day. In between: after a turn that did work, poll for a window; work that arrives inside it is taken
// without a wake-up, and an idle reactor (no work, so nothing to poll after) costs nothing.
//
// The window tunes itself from the gaps it sees between one turn with work and the next (whether that work was
// caught by polling or woke the thread):
// - a gap the largest window could have covered widens the window to cover it, with a quarter to spare, so a
//   steady stream of requests is met by polling;
// - a longer gap (polling would have been wasted) halves it, so a trickle of requests (a target at 1,000 IOPS
//   sees gaps of a millisecond) drives it to zero within a few requests and the reactor sleeps at once.
// The largest window is an option (ReactorOptions::adaptive_poll); 0 turns polling off (pure interrupt mode).
#pragma once
#include <chrono>

namespace nvmf::fabric {

/// The default largest window: longer than a loopback round trip through both ends (15-20 us here), far shorter
/// than the gaps of a lightly loaded target, which close the window (docs/performance.md).
inline constexpr std::chrono::microseconds kDefaultAdaptivePoll{50};

class AdaptivePoll {
 public:
  using Clock = std::chrono::steady_clock;

  explicit AdaptivePoll(std::chrono::nanoseconds max_window) : max_(max_window), window_(max_window) {}

  /// A turn handled work at `now`: learn from the gap since the previous one.
  void note_work(Clock::time_point now) {
    if (max_.count() > 0 && last_work_ != Clock::time_point{}) {
      const auto gap = now - last_work_;
      if (gap <= max_) {
        const auto wanted = std::min<Clock::duration>(max_, gap + gap / 4 + kSlack);
        if (wanted > window_) window_ = wanted;
      } else {
        window_ /= 2;
        if (window_ < kSlack) window_ = Clock::duration::zero();
      }
    }
    last_work_ = now;
  }

  /// How much longer to poll before sleeping, at `now`; zero or less: sleep.
  Clock::duration budget(Clock::time_point now) const {
    if (window_.count() == 0 || last_work_ == Clock::time_point{}) return Clock::duration::zero();
    return window_ - (now - last_work_);
  }

  Clock::duration window() const { return window_; }

 private:
  /// Below this a window is not worth a clock read per poll; also the margin added to a covered gap.
  static constexpr Clock::duration kSlack = std::chrono::microseconds(1);
  std::chrono::nanoseconds max_;
  Clock::duration window_;
  Clock::time_point last_work_{};
};

}  // namespace nvmf::fabric
