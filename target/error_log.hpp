// The Error Information log (LID 01h): a ring of the most recent command errors of one controller. Errors are
// rare and come from any of the controller's queues (I/O queues sit on other reactors), so a mutex guards it;
// the success path never touches it.
#pragma once
#include <cstdint>
#include <mutex>
#include <vector>

#include "nvme/libnvme.hpp"
#include "nvme/status.hpp"

namespace nvmf::target {

struct ErrorRecord {
  std::uint16_t sqid = 0;
  std::uint16_t cid = 0;
  nvme::Status status;
  std::uint16_t parameter_location = 0xFFFF;  ///< Byte/bit of the offending field; FFFFh: not given
  std::uint64_t lba = 0;
  std::uint32_t nsid = 0;
};

class ErrorLog {
 public:
  static constexpr std::size_t kEntries = 128;  ///< ELPE + 1, as nvmet's NVMET_ERROR_LOG_SLOTS

  void record(const ErrorRecord& record, std::uint8_t trtype);
  std::uint64_t count() const;
  /// Newest first, kEntries entries (unused ones zeroed), as the spec orders them.
  std::vector<nvme_error_log_page> entries() const;

 private:
  mutable std::mutex mutex_;
  std::vector<nvme_error_log_page> ring_ = std::vector<nvme_error_log_page>(kEntries);
  std::uint64_t count_ = 0;
};

}  // namespace nvmf::target
