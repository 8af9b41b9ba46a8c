// What went wrong on the host side: an NVMe status (from the controller, or a host-side path status when the
// connection itself failed) plus a sentence saying which step failed. Returned, never thrown.
#pragma once
#include <string>

#include "nvme/status.hpp"

namespace nvmf::initiator {

struct Error {
  nvme::Status status;   ///< Success only when nothing failed
  std::string message;   ///< "Connect (admin queue): SCT 1h SC 84h (...)", "tcp connect 127.0.0.1:4420: refused"

  explicit operator bool() const { return !message.empty() || !status.ok(); }
  std::string to_string() const { return message.empty() ? status.to_string() : message; }
};

/// Host-side statuses (NVMe base spec, Path Related Status): the transport failed under the command, or the
/// host gave up on it (timeout, queue closed).
inline constexpr nvme::Status kHostPathError = nvme::Status::make(NVME_SCT_PATH, NVME_SC_HOST_PATH_ERROR);
inline constexpr nvme::Status kAbortedByHost = nvme::Status::make(NVME_SCT_PATH, NVME_SC_CMD_ABORTED_BY_HOST);

/// "<step>: <status text>", the message every failed admin step reports.
inline Error step_failed(const std::string& step, nvme::Status status) {
  return Error{status, step + ": " + status.to_string()};
}

}  // namespace nvmf::initiator
