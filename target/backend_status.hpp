// Backend errno -> NVMe status. A failed backend operation becomes a status on the wire; the target keeps
// serving. The choices follow the NVMe base spec's meanings and the kernel target's blk_to_nvme_status.
#pragma once
#include <cerrno>

#include "nvme/status.hpp"

namespace nvmf::target {

enum class BackendOp { read, write, flush, write_zeroes, deallocate };

inline nvme::Status backend_status(int result, BackendOp op) {
  if (result >= 0) return nvme::Status::success();
  const bool writes = op != BackendOp::read;
  switch (-result) {
    case EROFS:
    case EPERM:
    case EACCES:
      // Namespace is Write Protected: the host must not retry.
      if (writes) return nvme::Status::generic(NVME_SC_NS_WRITE_PROTECTED);
      break;
    case ENOSPC:
    case EDQUOT:
      // Capacity Exceeded: a sparse file could not grow. DNR as nvmet sets it (errno_to_nvme_status): the same
      // write fails again until someone frees space.
      return nvme::Status::generic(NVME_SC_CAP_EXCEEDED).with_dnr();
    case EIO:
    case ENODATA:
      // Media errors; no DNR: a retry may reach a healthy copy (the kernel host retries these).
      return op == BackendOp::read ? nvme::Status::make(NVME_SCT_MEDIA, NVME_SC_READ_ERROR)
                                   : nvme::Status::make(NVME_SCT_MEDIA, NVME_SC_WRITE_FAULT);
    default:
      break;
  }
  return nvme::Status::make(NVME_SCT_GENERIC, NVME_SC_INTERNAL);
}

/// The status of a command forwarded to an NVMe drive (Backend::forward): the drive's own status (result > 0,
/// the NVMe Status Field as the kernel reports it in cqe->res) goes to the host unchanged; a command that never
/// reached the drive (negative errno: refused submission, cancelled or timed out in the kernel) is an Internal
/// Error without DNR, which the host may retry.
inline nvme::Status forwarded_status(int result) {
  if (result >= 0) return nvme::Status(static_cast<std::uint16_t>(result));
  return nvme::Status::make(NVME_SCT_GENERIC, NVME_SC_INTERNAL);
}

}  // namespace nvmf::target
