#include "target/reservation_log.hpp"

#include <algorithm>
#include <cstring>

#include "nvme/libnvme.hpp"

namespace nvmf::target {

static_assert(sizeof(nvme_resv_notification_log) == ReservationLog::kPageSize);
static_assert(offsetof(nvme_resv_notification_log, rnlpt) == 8 && offsetof(nvme_resv_notification_log, nalp) == 9 &&
              offsetof(nvme_resv_notification_log, nsid) == 12);

bool ReservationLog::add(ReservationEvent event, std::uint32_t nsid) {
  std::lock_guard lock(mutex_);
  auto it = masks_.find(nsid);
  const std::uint32_t mask = it == masks_.end() ? all_mask_ : it->second;
  if (mask & (1u << static_cast<unsigned>(event))) return false;
  // The count skips 0 when it wraps (NVMe Base spec, Reservation Notification log page, Log Page Count).
  if (++count_ == 0) count_ = 1;
  if (pages_.size() >= kCapacity) return false;  // lost: the next page's count is more than one above the last
  pages_.push_back({count_, event, nsid});
  return true;
}

std::vector<std::uint8_t> ReservationLog::next_page() {
  nvme_resv_notification_log log;
  std::memset(&log, 0, sizeof log);
  std::lock_guard lock(mutex_);
  if (!pages_.empty()) {
    const Page page = pages_.front();
    pages_.pop_front();
    log.lpc = page.count;
    log.rnlpt = static_cast<std::uint8_t>(page.event);
    log.nalp = static_cast<std::uint8_t>(std::min<std::size_t>(pages_.size(), 255));
    log.nsid = page.nsid;
  }
  std::vector<std::uint8_t> out(sizeof log);
  std::memcpy(out.data(), &log, sizeof log);
  return out;
}

void ReservationLog::set_mask(std::uint32_t nsid, std::uint32_t mask) {
  std::lock_guard lock(mutex_);
  if (nsid == NVME_NSID_ALL) {
    all_mask_ = mask;
    masks_.clear();
  } else {
    masks_[nsid] = mask;
  }
}

std::uint32_t ReservationLog::mask(std::uint32_t nsid) const {
  std::lock_guard lock(mutex_);
  auto it = masks_.find(nsid);
  return it == masks_.end() ? all_mask_ : it->second;
}

}  // namespace nvmf::target
