// An I/O queue: NVM command set commands (Read, Write, Flush, Write Zeroes, Dataset Management, Compare) on the
// queue's reactor, run to completion. Per-command state lives in a context pool sized at Connect (one per
// request slot), so the data path allocates nothing and takes no lock; see the threading model in
// controller.hpp.
#pragma once
#include <chrono>
#include <functional>
#include <cstdint>
#include <memory>
#include <vector>

#include "fabric/transport.hpp"
#include "target/backends/backend.hpp"
#include "target/ana.hpp"
#include "target/backend_status.hpp"
#include "target/queue_stats.hpp"
#include "target/namespace.hpp"

namespace nvmf::target {

class Controller;

class IoQueue {
 public:
  /// `depth`: SQSIZE + 1 of the Connect, for reports.
  IoQueue(fabric::ControllerQueue& queue, std::shared_ptr<Controller> controller, std::uint16_t qid,
          std::uint16_t depth = 0);
  ~IoQueue();
  IoQueue(const IoQueue&) = delete;
  IoQueue& operator=(const IoQueue&) = delete;

  /// Registers with the controller (Connect); returns the status the Connect completes with.
  nvme::Status attach();

  void handle(fabric::ControllerRequest& req);
  void on_data(fabric::ControllerRequest& req);
  void on_closed();

  /// Controller shutdown: commands now fail with Command Sequence Error. Runs on this queue's reactor.
  void disable() { enabled_ = false; }
  /// Controller reset or teardown: the queue is deleted. Runs on this queue's reactor.
  void close();
  /// A live namespace change, on this queue's reactor: new commands see `table` (a removed NSID fails with
  /// Invalid Namespace); commands in flight finish on the namespace they started with.
  void set_namespaces(std::shared_ptr<const NamespaceTable> table);
  /// Abort (admin command 08h), on this queue's reactor: the command with `cid` is completed with Command Abort
  /// Requested if it has not reached the backend and the transport can still withdraw its data transfer
  /// (ControllerQueue::cancel). Returns whether it was aborted; a command at the backend runs to its end.
  bool abort(std::uint16_t cid);

  /// On this queue's reactor: calls `done` once every command on `nsid` in flight now has completed (at once when
  /// none is), or when the queue goes away. Preempt and Abort waits so for the preempted hosts' commands.
  void when_drained(std::uint32_t nsid, std::function<void()> done);
  /// On this queue's reactor: calls `done` once every command now past the range-lock gate of `lock` whose blocks
  /// overlap `range` has completed (lba_range_lock.hpp, step 2), or when the queue goes away.
  void when_range_drained(const LbaRangeLock& lock, const LbaRange& range, std::function<void()> done);
  /// On this queue's reactor: commands parked by a range lock, and fused pairs waiting for one, try again.
  void retry_parked();
  /// On this queue's reactor: the Preempt and Abort in `slot` (use count `use`) may complete now.
  void finish_preempt_abort(std::uint16_t slot, std::uint32_t use, nvme::Status status);

  std::uint16_t qid() const { return qid_; }
  std::uint16_t depth() const { return depth_; }
  const QueueStats& stats() const { return *stats_; }

 private:
  enum class Stage : std::uint8_t { idle, read, write, flush, write_zeroes, write_zeroes_flush, dsm, compare_read, forward,
                               reservation,
                               parked,         ///< Overlaps a range lock: waits for retry_parked()
                               fused_waiting,  ///< A first fused command waiting for its second
                               fused_fetch,    ///< A pair moving its data from the host
                               fused_locking,  ///< A pair waiting for its range lock
                               fused_compare,  ///< The first's blocks being read back, under the lock
                               fused_write,    ///< The second's write, under the lock
                               fused_partner,  ///< The half whose partner drives the pair
  };
  /// FUSE (CDW0 bits 1:0): 01b first, 10b second of a fused operation.
  enum class FusedRole : std::uint8_t { none, first, second };

  struct Context {
    BackendIo io;
    IoQueue* owner = nullptr;
    fabric::ControllerRequest* req = nullptr;
    const Namespace* ns = nullptr;
    Stage stage = Stage::idle;
    std::uint32_t bytes = 0;
    std::uint32_t next_range = 0;
    std::uint32_t range_count = 0;
    bool awaiting_data = false;  ///< fetch_data() called, on_data() not yet: the only abortable point
    std::byte* scratch = nullptr;  ///< Compare: the blocks read back, from the reactor's buffer pool
    IoStats* stats = nullptr;      ///< The block of (this queue, the command's NSID)
    std::chrono::steady_clock::time_point started;  ///< The reactor turn that received the command
    std::uint32_t use = 0;  ///< Completions of this context so far: tells a new command from an old one
    // Fused Compare and Write (fused_commands.cpp); on the first half unless said otherwise.
    FusedRole fused = FusedRole::none;
    std::uint16_t partner = 0;        ///< The other half's slot
    nvme::Status fused_status;        ///< This half's own verdict so far (validation, data transfer)
    std::uint8_t fetches_left = 0;    ///< Data transfers of the pair not finished
    std::uint64_t lock_id = 0;        ///< The pair's range lock, while held or pending
  };
  struct DrainWaiter {
    std::vector<std::pair<std::uint16_t, std::uint32_t>> slots;  ///< (context, use) still to complete
    std::function<void()> done;
  };

  /// Checks SLBA/NLB against the namespace and the transfer against MDTS and the SGL length.
  nvme::Status check_rw(const fabric::ControllerRequest& req, const Namespace& ns, std::uint32_t& bytes) const;
  void start_read(Context& ctx);
  void start_write(Context& ctx);
  void start_compare(Context& ctx);
  void start_dsm(Context& ctx);
  /// NVMe passthrough namespaces: the command goes to the drive whole, its status comes back unchanged.
  void handle_forwarded(Context& ctx);
  /// Reservation conflict when the namespace's reservation forbids this host the command's group; the verdict
  /// is cached per namespace until the reservation changes (NamespaceReservations::epoch).
  nvme::Status check_reservation(std::size_t ns_index, const Namespace& ns, std::uint8_t opcode);
  /// Reservation Register / Report / Acquire / Release (reservation_commands.cpp).
  void handle_reservation(Context& ctx);
  void run_reservation(Context& ctx);
  void start_forward(Context& ctx);
  /// Everything after the checks of handle(): the range-lock gate, then the command's start.
  void dispatch(Context& ctx);
  void start_command(Context& ctx);
  /// Sets up the context of a command that passed handle()'s checks.
  Context& take_context(fabric::ControllerRequest& req, const Namespace* ns, IoStats& stats);
  /// Whether a write with borrowed data (ControllerRequest::data_borrowed) finishes with it inside handle().
  bool writes_inline(const fabric::ControllerRequest& req, const Namespace* ns) const;
  // Fused Compare and Write (fused_commands.cpp).
  /// A command with FUSE set, or any command while a first fused command waits: true when it was taken care of.
  bool fused_arrival(fabric::ControllerRequest& req);
  /// What handle() would answer `req` before running it (namespace, ANA, reservation, range and length).
  nvme::Status fused_checks(fabric::ControllerRequest& req, const Namespace*& ns, IoStats*& stats,
                            std::uint32_t& bytes);
  void fused_pair(Context& first, fabric::ControllerRequest& second_req);
  void fused_data(Context& half);
  void fused_lock(Context& first);
  void fused_granted(std::uint16_t slot, std::uint32_t use);
  void fused_backend_done(Context& ctx, int result);
  /// Ends the pair: each half completes with its status (the lock, if held, is released first).
  void fused_finish(Context& first, nvme::Status first_status, nvme::Status second_status);
  static constexpr std::uint16_t kNoSlot = 0xFFFF;
  std::uint16_t waiting_first_ = kNoSlot;  ///< A first fused command waiting for the next command
  void fetch_data(Context& ctx);
  void next_dsm_range(Context& ctx);
  static void on_backend_done(BackendIo& io, int result);
  void backend_done(Context& ctx, int result);
  /// Completes a command that has no context (refused on arrival), counting a failure in `stats`.
  void finish(fabric::ControllerRequest& req, nvme::Status status, IoStats& stats);
  void complete(Context& ctx, nvme::Status status);  ///< Releases the context, counts and completes
  /// Points stats_by_index_ at this queue's blocks for the namespaces of namespaces_ (creating missing ones).
  void index_stats();
  void set_in_flight(std::uint32_t n) { in_flight_ = n, stats_->set_in_flight(n); }

  fabric::ControllerQueue& queue_;
  fabric::Reactor& reactor_;
  std::shared_ptr<Controller> controller_;
  std::shared_ptr<const NamespaceTable> namespaces_;
  /// Tables replaced while commands were in flight: kept until in_flight_ drops to 0, so `Context::ns` stays valid.
  std::vector<std::shared_ptr<const NamespaceTable>> retired_tables_;
  std::uint32_t in_flight_ = 0;
  const std::uint16_t qid_;
  const std::uint16_t depth_;
  const std::uint32_t max_transfer_;
  std::vector<Context> contexts_;
  std::shared_ptr<QueueStats> stats_;
  std::vector<IoStats*> stats_by_index_;  ///< Parallel to namespaces_->all()
  IoStats* no_namespace_stats_ = nullptr;
  struct ReservationView {
    std::uint64_t epoch = ~std::uint64_t(0);  ///< Not asked yet
    ReservationAccess access;
  };
  std::vector<ReservationView> reservation_by_index_;  ///< Parallel to namespaces_->all()
  std::vector<DrainWaiter> drain_waiters_;  ///< when_drained() calls not answered yet
  /// Preempt and Abort: waits until the preempted hosts' commands on the namespace are done (as nvmet).
  void drain_preempted(Context& ctx, const std::vector<ReservationNotice>& notices);
  void note_completion(std::uint16_t slot);  ///< NSID 0: commands naming no namespace of the table
  std::uint64_t token_ = 0;
  bool attached_ = false;
  bool enabled_ = true;
  /// This controller's port's ANA states, read once per command; null when ANA is not reported.
  std::shared_ptr<const PortAnaStates> ana_;
  /// The transport sends lent memory (ControllerQueue::sends_lent_data): reads try Backend::lend_read first.
  const bool lends_;
};

}  // namespace nvmf::target
