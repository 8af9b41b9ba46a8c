// One ublk queue served on one reactor: every tag's FETCH_REQ and COMMIT_AND_FETCH_REQ are URING_CMDs on the
// reactor's own io_uring, and every request goes to the initiator I/O queue living on that same reactor, so a
// request reaches the wire with no thread hop and no lock. Tags, their data buffers and DSM ranges are made at
// start: serving a request allocates nothing.
//
// Data moves in the driver's default mode: the driver copies a write's pages into the tag's buffer before it
// hands the request over, and a read's buffer into the pages at COMMIT (one copy, done by the kernel in the
// server's context). USER_COPY (6.5+) would add a pread/pwrite system call per request for the same copy, so it
// is not used.
#pragma once
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "fabric/io_op.hpp"
#include "initiator/attach/request_mapping.hpp"
#include "initiator/attach/ublk_uapi.hpp"
#include "initiator/io_queue.hpp"
#include "initiator/namespace.hpp"

namespace nvmf::initiator::ublk {

struct QueueConfig {
  int char_fd = -1;        ///< /dev/ublkcN
  std::uint16_t q_id = 0;
  std::uint16_t depth = 0;  ///< Tags; the I/O queue must have at least as many entries
  std::uint32_t buffer_bytes = 0;
  bool ioctl_encoded = true;
};

class UblkQueue {
 public:
  /// `io` must live on the calling thread's reactor and outlive this object.
  UblkQueue(IoQueue& io, const Namespace& ns, const QueueConfig& config);
  ~UblkQueue();
  UblkQueue(const UblkQueue&) = delete;
  UblkQueue& operator=(const UblkQueue&) = delete;

  /// Map the descriptors, make the buffers and queue a FETCH_REQ for every tag (submitted before returning).
  bool start(std::string* error);
  /// Drive the reactor once (waiting at most `max_wait`) and resubmit requests the I/O queue had no room for.
  void poll(std::chrono::milliseconds max_wait);
  /// Every tag has been given back by the driver (aborted: the device is stopping).
  bool finished() const { return finished_tags_ == config_.depth; }
  /// Before the I/O queue is destroyed: its destructor completes what it still holds, and those completions must
  /// not be committed to a device that is going away.
  void close() { closing_ = true; }
  /// Requests handed to the I/O queue and not yet committed.
  std::uint32_t in_service() const { return in_service_; }

 private:
  struct Tag {
    fabric::IoOp op;
    UblkQueue* queue = nullptr;
    std::uint16_t tag = 0;
    void* buffer = nullptr;
    BlockRequest request;
    nvme_dsm_range range{};
    bool finished = false;
  };

  static void on_command_done(fabric::IoOp& op, std::int32_t res, std::uint32_t flags);
  static void on_io_done(void* arg, nvme::Status status);
  void issue(Tag& t, std::uint32_t nr, std::int32_t result);
  void handle_request(Tag& t);
  /// True when submitted (or finished with an error); false when the I/O queue is full.
  bool submit(Tag& t);
  void commit(Tag& t, std::int32_t result);

  IoQueue& io_;
  Namespace ns_;
  QueueConfig config_;
  const IoDesc* descriptors_ = nullptr;
  std::size_t descriptors_bytes_ = 0;
  void* buffers_ = nullptr;
  std::size_t buffers_bytes_ = 0;
  std::vector<Tag> tags_;
  std::vector<Tag*> waiting_;  ///< Requests the I/O queue had no room for, in arrival order
  std::uint32_t finished_tags_ = 0;
  std::uint32_t in_service_ = 0;
  bool closing_ = false;
};

}  // namespace nvmf::initiator::ublk
