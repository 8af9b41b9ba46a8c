// The asynchronous block API over a multipath set: one per thread, like IoQueue, made by
// MultipathSet::create_queue. It holds one IoQueue per path, all on the caller's reactor, and a fixed table of
// command slots (one per queue entry), so the data path allocates nothing and takes no lock.
//
// Each command goes to a path chosen by the set's policy among the paths whose queue is connected, by the ANA
// state the set last read (shared through relaxed atomics). A command a path fails with a path-related status
// (SCT 3h: ANA inaccessible, persistent loss, change; host path error when the connection is lost) is sent
// again on another usable path before the caller's callback runs; with no usable path but one reconnecting it
// waits for that path (until its controller gives up, ctrl-loss-tmo). Callbacks run on the calling thread,
// inside process_completions().
//
// The set must outlive its queues; the set's thread keeps calling MultipathSet::poll() (keep-alive, reconnects,
// ANA logs) while queues run on other threads.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "initiator/io_queue.hpp"
#include "initiator/multipath_policy.hpp"

namespace nvmf::initiator {

class MultipathQueue {
 public:
  /// The ANA state (NVME_ANA_STATE_*) of each namespace through one path, indexed like the set's NSID list;
  /// written by the set on its thread and by queues that learn a new state from a status.
  using AnaBoard = std::atomic<std::uint8_t>;

  struct PathQueue {
    std::unique_ptr<IoQueue> queue;
    AnaBoard* ana = nullptr;           ///< One entry per NSID of the set
    std::vector<Namespace> namespaces; ///< The namespaces as this path describes them, same index
  };
  /// Built by MultipathSet::create_queue. `nsids` is sorted; every path has an entry for each.
  MultipathQueue(std::vector<PathQueue> paths, std::vector<std::uint32_t> nsids, std::uint32_t depth,
                 PathPolicy policy);
  /// Closes every path's queue; commands still outstanding complete with an aborted status.
  ~MultipathQueue();
  MultipathQueue(const MultipathQueue&) = delete;
  MultipathQueue& operator=(const MultipathQueue&) = delete;

  /// Read or write `nlb` blocks at `slba` of namespace `nsid`. queue_full when depth() commands are
  /// outstanding; disconnected when no path can take it now and none is reconnecting.
  SubmitResult read(std::uint32_t nsid, std::uint64_t slba, std::uint32_t nlb, void* buf, IoCallback cb, void* arg);
  SubmitResult write(std::uint32_t nsid, std::uint64_t slba, std::uint32_t nlb, const void* buf, IoCallback cb,
                     void* arg, bool fua = false);
  /// Flush namespace `nsid` (its volatile write cache) through one path; moved to another path like any command.
  SubmitResult flush(std::uint32_t nsid, IoCallback cb, void* arg);
  /// Write Zeroes over `nlb` blocks at `slba`, deallocating them where the namespace can (DEAC).
  SubmitResult write_zeroes(std::uint32_t nsid, std::uint64_t slba, std::uint32_t nlb, IoCallback cb, void* arg,
                            bool deallocate = false);

  /// Drive the reactor (waiting at most `max_wait`), maintain every path's queue (timeouts, reconnects) and
  /// send again the commands waiting for a path; returns the number of commands completed to the caller.
  unsigned process_completions(std::chrono::milliseconds max_wait = std::chrono::milliseconds(0));

  std::uint32_t depth() const { return static_cast<std::uint32_t>(slots_.size()); }
  std::uint32_t outstanding() const { return depth() - static_cast<std::uint32_t>(free_.size()); }
  /// Some path connected or reconnecting (commands wait for it); false once every controller gave up.
  bool alive() const;
  std::size_t path_count() const { return paths_.size(); }
  /// Commands sent again on another path after a path failed them.
  std::uint64_t retries() const { return retries_; }
  /// Commands that completed through `path` (successfully or with a final status).
  std::uint64_t completed_on(std::size_t path) const { return paths_.at(path).completed; }
  const IoQueue& path_queue(std::size_t path) const { return *paths_.at(path).queue; }
  PathPolicy policy() const { return chooser_.policy(); }
  /// Why the paths are gone, when alive() is false.
  std::string error() const;

 private:
  struct Path : PathQueue {
    std::uint32_t outstanding = 0;
    std::uint64_t completed = 0;
  };
  enum class Op : std::uint8_t { read, write, flush, write_zeroes };
  struct Slot {
    MultipathQueue* owner = nullptr;
    IoCallback cb = nullptr;
    void* arg = nullptr;
    void* buf = nullptr;
    std::uint64_t slba = 0;
    std::uint32_t nlb = 0;
    std::uint32_t ns_index = 0;
    std::uint64_t tried = 0;  ///< Bit per path that failed this command
    std::size_t path = 0;
    Op op = Op::read;
    bool flag = false;  ///< write: FUA; write_zeroes: deallocate
  };
  static constexpr std::size_t kMaxPaths = 64;  ///< Slot::tried has a bit per path

  SubmitResult start(Op op, std::uint32_t nsid, std::uint64_t slba, std::uint32_t nlb, void* buf, bool flag,
                     IoCallback cb, void* arg);
  /// Submit `slot` on one path's queue.
  static SubmitResult submit_on(IoQueue& queue, const Namespace& ns, Slot& slot);
  /// Send `slot` on the best path it has not failed on. ok: sent or waiting for a path; anything else: the
  /// command cannot go anywhere (the slot is still held).
  SubmitResult dispatch(Slot& slot);
  static void on_path_complete(void* arg, nvme::Status status);
  void finish(Slot& slot, nvme::Status status);
  bool any_path_reconnecting() const;

  std::vector<Path> paths_;
  std::vector<std::uint32_t> nsids_;
  std::vector<Slot> slots_;
  std::vector<Slot*> free_;
  std::vector<Slot*> waiting_;        ///< No usable path right now; sent again from process_completions()
  std::vector<Slot*> retry_batch_;    ///< waiting_ taken over for one retry round (capacity kept)
  std::vector<PathCandidate> candidates_;
  PathChooser chooser_;
  std::uint64_t retries_ = 0;
  unsigned completed_ = 0;
  bool destroying_ = false;
};

}  // namespace nvmf::initiator
