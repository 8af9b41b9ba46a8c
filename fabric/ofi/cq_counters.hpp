// How a queue's completion queue is being driven, counted per queue and logged (debug) when it closes: these are
// the figures behind docs/libfabric.md's account of what the tcp provider costs. Plain increments on the reactor
// thread that owns the queue: no atomics, nothing allocated.
#pragma once
#include <cstdint>
#include <cstdio>

namespace nvmf::fabric::ofi {

struct CqCounters {
  std::uint64_t wakeups = 0;      ///< Drains started: wait-fd wake-ups (or busy-poll turns)
  std::uint64_t reads = 0;        ///< fi_cq_read calls; with the tcp provider each runs its progress (epoll_wait)
  std::uint64_t empty_reads = 0;  ///< ... of which returned -FI_EAGAIN
  std::uint64_t completions = 0;  ///< Entries they returned
  std::uint64_t trywait_again = 0;  ///< fi_trywait answered -FI_EAGAIN (read again before sleeping)

  /// "12000 completions in 3000 reads (1000 empty), 1000 wake-ups, 0 trywait retries"
  void format(char* out, std::size_t size) const {
    std::snprintf(out, size, "%llu completions in %llu CQ reads (%llu empty), %llu wake-ups, %llu trywait retries",
                  static_cast<unsigned long long>(completions), static_cast<unsigned long long>(reads),
                  static_cast<unsigned long long>(empty_reads), static_cast<unsigned long long>(wakeups),
                  static_cast<unsigned long long>(trywait_again));
  }
};

}  // namespace nvmf::fabric::ofi
