#include "target/error_log.hpp"

#include <cstring>

namespace nvmf::target {

void ErrorLog::record(const ErrorRecord& r, std::uint8_t trtype) {
  std::lock_guard lock(mutex_);
  ++count_;
  nvme_error_log_page& e = ring_[(count_ - 1) % kEntries];
  std::memset(&e, 0, sizeof e);
  e.error_count = count_;
  e.sqid = r.sqid;
  e.cmdid = r.cid;
  e.status_field = r.status.to_cqe_field();  // the CQE's status field, phase tag 0
  e.parm_error_location = r.parameter_location;
  e.lba = r.lba;
  e.nsid = r.nsid;
  e.trtype = trtype;
}

std::uint64_t ErrorLog::count() const {
  std::lock_guard lock(mutex_);
  return count_;
}

std::vector<nvme_error_log_page> ErrorLog::entries() const {
  std::lock_guard lock(mutex_);
  std::vector<nvme_error_log_page> out(kEntries);
  std::uint64_t n = count_ < kEntries ? count_ : kEntries;
  for (std::uint64_t i = 0; i < n; ++i) out[i] = ring_[(count_ - 1 - i) % kEntries];
  return out;
}

}  // namespace nvmf::target
