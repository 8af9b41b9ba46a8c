// One controller's Reservation Notification log (log page 80h) and its Reservation Notification Mask feature
// (82h). Reservation commands on any reactor add pages; the admin reactor reads them, one page per Get Log Page,
// oldest first. Guarded by its own mutex: reservation events are rare.
#pragma once
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <vector>

#include "target/reservations.hpp"

namespace nvmf::target {

class ReservationLog {
 public:
  static constexpr std::size_t kPageSize = 64;
  static constexpr std::size_t kCapacity = 64;  ///< Pages kept; more are lost, and the count shows the gap
  /// Mask bits of feature 82h: bit 1 registration preempted, bit 2 reservation released, bit 3 preempted.
  static constexpr std::uint32_t kMaskBits = 0xE;

  /// Adds a page unless the event is masked for `nsid`; returns whether it was added.
  bool add(ReservationEvent event, std::uint32_t nsid);
  /// The next page (removed), or an empty page (type 0) when none is waiting; NALP counts the pages still waiting.
  std::vector<std::uint8_t> next_page();

  /// Set Features 82h: `nsid` FFFFFFFFh sets every namespace.
  void set_mask(std::uint32_t nsid, std::uint32_t mask);
  std::uint32_t mask(std::uint32_t nsid) const;

 private:
  struct Page {
    std::uint64_t count;
    ReservationEvent event;
    std::uint32_t nsid;
  };
  mutable std::mutex mutex_;
  std::uint64_t count_ = 0;  ///< Log Page Count of the last page created (lost ones included)
  std::deque<Page> pages_;
  std::uint32_t all_mask_ = 0;
  std::map<std::uint32_t, std::uint32_t> masks_;  ///< Namespaces set one by one since the last FFFFFFFFh
};

}  // namespace nvmf::target
