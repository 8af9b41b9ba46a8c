// Re-authentication of an I/O queue (NVMe Base 2.0, 8.13.5: a host may start a new transaction on an admitted
// queue at any time). The transaction's commands share the queue with the application's I/O: one entry is kept
// free for them, as the Linux host submits its authentication commands with a reserved tag.
#include "initiator/io_queue.hpp"

namespace nvmf::initiator {

Error IoQueue::reauthenticate() {
  if (!reauthenticator_)
    return Error{nvme::Status::generic(NVME_SC_INVALID_FIELD), "re-authentication needs a DH-HMAC-CHAP secret"};
  if (!connected()) return Error{kHostPathError, "I/O queue " + std::to_string(qid_) + " is not connected"};
  reserve_entry_ = true;
  // Completions free entries; their callbacks may submit again, but no longer into the last free one.
  const auto deadline = Clock::now() + io_timeout_;
  while (free_.empty() && connected() && Clock::now() < deadline) process_completions(std::chrono::milliseconds(10));
  Error result;
  if (!connected())
    result = Error{kHostPathError, "I/O queue " + std::to_string(qid_) + " lost its connection"};
  else if (free_.empty())
    result = Error{kAbortedByHost, "I/O queue " + std::to_string(qid_) + ": no queue entry freed for re-authentication"};
  else
    result = reauthenticator_(*queue_);
  reserve_entry_ = false;
  return result;
}

}  // namespace nvmf::initiator
