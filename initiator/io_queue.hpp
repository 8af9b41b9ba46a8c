// The block API: one I/O queue pair, used by one thread, no locks (SPDK's qpair model). Commands are submitted
// asynchronously with a completion callback; process_completions() drives the queue's reactor and runs the
// callbacks on the calling thread. Read data lands directly in the caller's buffers; buffers (and DSM ranges)
// must stay valid until the callback runs. Request contexts are allocated once, at queue creation: the data
// path allocates nothing.
//
// Connection loss (queues made by a Controller, which attaches the association): commands caught by the loss
// are parked in their slots, not failed; process_completions() reconnects the queue once the controller has a
// new association and resends them, or fails them when the controller gives up (ctrl-loss-tmo) or
// fast-io-fail-tmo runs out. Commands submitted meanwhile are parked too. A command older than the I/O timeout
// closes the connection (its fate is unknown, as on the Linux host), which then recovers the same way.
#pragma once
#include <sys/uio.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "fabric/host_transport.hpp"
#include "initiator/association.hpp"
#include "initiator/error.hpp"
#include "initiator/io_stats.hpp"
#include "initiator/namespace.hpp"
#include "nvme/libnvme.hpp"
#include "nvme/status.hpp"

namespace nvmf::initiator {

using IoCallback = void (*)(void* arg, nvme::Status status);
/// A fused Compare and Write completed: the status of each half (both CQEs).
using CompareWriteCallback = void (*)(void* arg, nvme::Status compare_status, nvme::Status write_status);

/// The two completions of a fused Compare and Write. Written only when both succeeded; a miscompare is
/// compare = Compare Failure (SCT 2h SC 85h), write = Command Aborted due to Failed Fused Command (SC 09h).
struct CompareWriteStatus {
  nvme::Status compare;
  nvme::Status write;
  bool ok() const { return compare.ok() && write.ok(); }
  bool miscompare() const { return compare.same_code(nvme::Status::media(NVME_SC_COMPARE_FAILED)); }
};

enum class SubmitResult {
  ok,
  queue_full,        ///< depth() commands outstanding: process completions and retry
  invalid_argument,  ///< Out of range, over the maximum transfer, or buffers not matching the block count
  disconnected,      ///< The connection is gone for good (or fast-io-fail ran out while reconnecting)
};
const char* to_string(SubmitResult r);

class IoQueue {
 public:
  /// Built by Controller::create_io_queue once the queue's Connect succeeded. `on_destroy` runs last.
  IoQueue(std::unique_ptr<fabric::HostQueue> queue, std::uint16_t qid, std::chrono::milliseconds io_timeout,
          std::function<void()> on_destroy);
  /// Closes the connection; outstanding commands complete (callbacks run) with an aborted status.
  ~IoQueue();
  IoQueue(const IoQueue&) = delete;
  IoQueue& operator=(const IoQueue&) = delete;

  /// Recover from connection loss through `association` (see above); `generation` is the association this
  /// queue's connection belongs to. Without it a lost connection fails the commands caught by it.
  void attach_association(std::shared_ptr<AssociationState> association, std::uint32_t generation);
  /// Run by process_completions() while reconnecting, before looking at the association: the controller's
  /// maintenance when it shares this queue's thread (the command line's single-threaded tools).
  void set_admin_hook(std::function<void()> hook) { admin_hook_ = std::move(hook); }
  /// Runs one DH-HMAC-CHAP transaction on a queue's connection (Controller::create_io_queue sets it when the
  /// host has a secret; it holds copies of the credentials, not the controller).
  using Reauthenticator = std::function<Error(fabric::HostQueue& queue)>;
  void set_reauthenticator(Reauthenticator fn) { reauthenticator_ = std::move(fn); }
  /// Re-authentication of this queue (a new DH-HMAC-CHAP transaction, as the Linux host runs on every queue
  /// when its secret changes), called from the queue's own thread. Commands already submitted go on, and their
  /// callbacks run meanwhile; until it returns one queue entry is kept for the authentication commands (the
  /// Linux host reserves a tag the same way), so submit() says queue_full one command earlier. A failure is
  /// returned; the controller then ends the association (recovery follows as for any connection loss).
  Error reauthenticate();
  /// RDMA: register an application buffer ahead of its first use (later I/O from it skips registration).
  /// True without doing anything on transports that need no registration (TCP).
  bool register_buffer(void* address, std::size_t length, std::string* error = nullptr);

  // ---- Asynchronous commands ----
  SubmitResult read(const Namespace& ns, std::uint64_t slba, std::uint32_t nlb, void* buf, IoCallback cb, void* arg);
  SubmitResult readv(const Namespace& ns, std::uint64_t slba, std::uint32_t nlb, const iovec* iov,
                     std::uint32_t iovcnt, IoCallback cb, void* arg);
  SubmitResult write(const Namespace& ns, std::uint64_t slba, std::uint32_t nlb, const void* buf, IoCallback cb,
                     void* arg, bool fua = false);
  SubmitResult writev(const Namespace& ns, std::uint64_t slba, std::uint32_t nlb, const iovec* iov,
                      std::uint32_t iovcnt, IoCallback cb, void* arg, bool fua = false);
  /// Compare: the controller reports Compare Failure (SCT 2h SC 85h) when the blocks differ from `buf`.
  SubmitResult compare(const Namespace& ns, std::uint64_t slba, std::uint32_t nlb, const void* buf, IoCallback cb,
                       void* arg);
  /// Fused Compare and Write (io_queue_fused.cpp): a Compare of `expected` (FUSE first) and a Write of `data`
  /// (FUSE second) on the same blocks, sent back to back on this queue; the controller runs them as one
  /// operation, atomic against every other command on those blocks. `cb` runs once, with both statuses. Needs
  /// two free entries (queue_full otherwise) and nlb within one transfer.
  SubmitResult compare_and_write(const Namespace& ns, std::uint64_t slba, std::uint32_t nlb, const void* expected,
                                 const void* data, CompareWriteCallback cb, void* arg, bool fua = false);
  SubmitResult flush(const Namespace& ns, IoCallback cb, void* arg);
  SubmitResult write_zeroes(const Namespace& ns, std::uint64_t slba, std::uint32_t nlb, IoCallback cb, void* arg,
                            bool deallocate = false);
  /// Dataset Management, Deallocate attribute; 1..256 ranges.
  SubmitResult deallocate(const Namespace& ns, const nvme_dsm_range* ranges, std::uint32_t count, IoCallback cb,
                          void* arg);

  /// Drive the reactor once, waiting at most `max_wait` for something to happen, then check I/O timeouts and
  /// recover a lost connection; returns the number of this queue's commands completed (callbacks have run).
  unsigned process_completions(std::chrono::milliseconds max_wait = std::chrono::milliseconds(0));

  // ---- Synchronous helpers: submit, then process completions until done. Transfers larger than the
  // namespace's maximum are split. They return once the command completed, was retried to completion after a
  // reconnect, or failed (I/O timeout without recovery, ctrl-loss-tmo, fast-io-fail-tmo). ----
  nvme::Status read_sync(const Namespace& ns, std::uint64_t slba, std::uint32_t nlb, void* buf);
  nvme::Status write_sync(const Namespace& ns, std::uint64_t slba, std::uint32_t nlb, const void* buf,
                          bool fua = false);
  nvme::Status compare_sync(const Namespace& ns, std::uint64_t slba, std::uint32_t nlb, const void* buf);
  /// Fused Compare and Write, waited for; `nlb` must fit one transfer (a fused pair cannot be split).
  CompareWriteStatus compare_and_write_sync(const Namespace& ns, std::uint64_t slba, std::uint32_t nlb,
                                            const void* expected, const void* data, bool fua = false);
  nvme::Status flush_sync(const Namespace& ns);
  nvme::Status write_zeroes_sync(const Namespace& ns, std::uint64_t slba, std::uint32_t nlb, bool deallocate = false);
  nvme::Status deallocate_sync(const Namespace& ns, const nvme_dsm_range* ranges, std::uint32_t count);
  /// Any other I/O command, as built by the caller (opcode, NSID, CDW10-15) with one data buffer of `length`
  /// bytes moving in `dir` (none: no buffer): the reservation commands of `nvmf resv-*`.
  nvme::Status command_sync(const nvme::Sqe& sqe, void* buf, std::uint32_t length, fabric::DataDirection dir);

  std::uint16_t qid() const { return qid_; }
  std::uint16_t depth() const { return queue_->depth(); }
  /// Commands submitted and not completed: on the wire, or parked while reconnecting.
  std::uint32_t outstanding() const { return queue_->outstanding() + static_cast<std::uint32_t>(parked_.size()); }
  /// Usable: connected, or reconnecting with I/O still allowed to wait.
  bool alive() const;
  /// Connected right now (false while reconnecting).
  bool connected() const { return link_ == Link::connected && queue_->alive(); }
  bool reconnecting() const { return link_ == Link::waiting; }
  std::uint32_t generation() const { return generation_; }
  std::string error() const { return queue_->error().message; }
  fabric::Reactor& reactor() { return queue_->reactor(); }
  /// Commands, bytes, failures and latency of this queue; readable from any thread, and after the queue is gone.
  std::shared_ptr<const IoStats> stats() const { return stats_; }

 private:
  using Clock = std::chrono::steady_clock;
  enum class Link { connected, waiting, failed };

  struct Slot {
    fabric::HostRequest request;
    iovec single{};
    IoCallback cb = nullptr;
    void* arg = nullptr;
    IoQueue* owner = nullptr;
    Clock::time_point sent;
    std::uint64_t bytes = 0;  ///< Read or written by the command, for the statistics
    bool in_flight = false;
  };

  static void on_request_complete(fabric::HostRequest& req);
  SubmitResult submit(const nvme::Sqe& sqe, const iovec* iov, std::uint32_t iovcnt, fabric::DataDirection dir,
                      IoCallback cb, void* arg);
  SubmitResult submit_single(const nvme::Sqe& sqe, const void* buf, std::uint32_t length, fabric::DataDirection dir,
                             IoCallback cb, void* arg);
  SubmitResult check_range(const Namespace& ns, std::uint64_t slba, std::uint32_t nlb) const;
  bool park_on_completion(nvme::Status status) const;
  void complete_slot(Slot* slot, nvme::Status status);
  // Connection recovery (io_queue_recovery.cpp).
  void maintain();
  void scan_timeouts(Clock::time_point now);
  void on_link_lost();
  void recover(Clock::time_point now);
  void resend_parked();
  void fail_parked(nvme::Status status);
  /// One fused Compare and Write in flight: gathers the two completions (io_queue_fused.cpp).
  struct FusedPair {
    IoQueue* owner = nullptr;
    CompareWriteCallback cb = nullptr;
    void* arg = nullptr;
    nvme::Status compare, write;
    std::uint8_t left = 0;
  };
  static void on_fused_compare(void* arg, nvme::Status status);
  static void on_fused_write(void* arg, nvme::Status status);
  static void fused_half_done(FusedPair& pair);
  /// Submit through `start` (retrying while the queue is full) and wait for its callback.
  template <typename Start>
  nvme::Status run_sync(Start&& start);

  std::unique_ptr<fabric::HostQueue> queue_;
  std::uint16_t qid_;
  std::chrono::milliseconds io_timeout_;
  std::function<void()> on_destroy_;
  std::vector<Slot> slots_;
  std::vector<Slot*> free_;
  std::vector<Slot*> parked_;  ///< Caught by a connection loss, or submitted while reconnecting
  unsigned completed_ = 0;
  std::shared_ptr<IoStats> stats_ = std::make_shared<IoStats>();

  std::shared_ptr<AssociationState> association_;
  std::uint32_t generation_ = 0;
  Link link_ = Link::connected;
  bool destroying_ = false;
  Clock::time_point next_attempt_{};
  Clock::time_point next_timeout_scan_{};
  std::function<void()> admin_hook_;
  Reauthenticator reauthenticator_;
  bool reserve_entry_ = false;  ///< A re-authentication keeps the last free entry for itself
  std::vector<FusedPair> fused_pairs_;   ///< Sized on the first compare_and_write (depth / 2 pairs at most)
  std::vector<FusedPair*> fused_free_;
};

}  // namespace nvmf::initiator
