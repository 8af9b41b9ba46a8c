// Batches outgoing messages into one sendmsg at a time, as a well-written NVMe/TCP path does (SPDK's sock layer
// gathers queued PDUs into one writev; the kernel's nvme-tcp sets MSG_MORE until its send list is empty). Two
// batches: the one in flight and the one filling up behind it; headers live in the batch until the kernel has
// taken them, payloads are borrowed. Capacity is fixed at construction: adding never allocates.
#pragma once
#include <liburing.h>
#include <sys/uio.h>

#include <cstddef>
#include <vector>

#include "bench/ceiling/message.hpp"

namespace nvmf::bench {

class MessageSender {
 public:
  explicit MessageSender(std::size_t max_messages_per_batch);

  /// The filling batch cannot take another message until the one in flight has gone.
  bool full() const { return filling_.headers.size() == capacity_; }
  /// Queue a message; `payload` (header.length - 16 bytes) must stay valid until it has been sent.
  void add(const MessageHeader& header, const void* payload);

  /// Something to send: the rest of the batch in flight, or a filled batch waiting for it.
  bool has_work() const { return !flight_done() || !filling_.headers.empty(); }
  /// Prepare one sendmsg for the next bytes (call only when has_work() and no send is outstanding).
  void prep(io_uring_sqe* sqe, int fd);
  /// Forget everything queued (the connection is gone).
  void reset() {
    flight_.clear();
    filling_.clear();
  }
  /// Account a send completion of `bytes` bytes (a short send leaves the remainder for the next prep()).
  void complete(std::size_t bytes);

 private:
  struct Batch {
    std::vector<MessageHeader> headers;
    std::vector<iovec> iov;
    std::size_t next_iov = 0;  ///< First iovec not yet fully sent
    void clear() {
      headers.clear();
      iov.clear();
      next_iov = 0;
    }
  };
  bool flight_done() const { return flight_.next_iov == flight_.iov.size(); }

  std::size_t capacity_;
  Batch flight_;
  Batch filling_;
  msghdr msg_{};
};

}  // namespace nvmf::bench
