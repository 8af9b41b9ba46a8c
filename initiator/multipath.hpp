// A multipath controller set: one subsystem reached through several paths (addresses, ports, transports), one
// association and one I/O queue per path, as the Linux host's native multipath keeps one nvme_ctrl per path
// under one nvme_subsystem.
//
// - Namespaces are matched across paths by NSID and identifier (NGUID, else EUI-64): a path whose namespace of
//   the same NSID carries another identifier is refused at connect time, as the Linux host refuses it
//   ("IDs don't match").
// - Path choice per command: ANA state first (optimized, then non-optimized; inaccessible, persistent loss and
//   change are never chosen), only paths whose connection is up, then the policy among the best: round-robin
//   or least-queued (multipath_policy.hpp).
// - A command that a path fails with a path-related status (SCT 3h, ANA or transport) or cannot take is sent
//   again on another usable path; the application sees only the final status. The failing path's ANA log is
//   read again before it is used next.
// - ANA: read from log page 0Ch at connect time (when CMIC bit 3 is set), after an ANA change notice (AEN
//   notice 03h), after an ANA status, and every second while a namespace is unusable through the path (so a
//   path that comes back is used again even when its notice is lost); without ANA reporting every path is
//   optimized.
//
// Threading: the set and everything in it is driven by one thread (the caller's), like Controller and IoQueue.
// The asynchronous block API is MultipathQueue (multipath_queue.hpp), one per thread, made by create_queue();
// the set shares each path's ANA states with its queues through atomics and must be polled meanwhile.
// - A command caught by a connection loss fails on that path at once (fast-io-fail-tmo 0 unless the options
//   set one) and moves to another path; with no usable path but one reconnecting, it waits for it (until
//   ctrl-loss-tmo gives it up).
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "initiator/controller.hpp"
#include "initiator/multipath_policy.hpp"
#include "initiator/multipath_queue.hpp"

namespace nvmf::initiator {

class MultipathSet {
 public:
  /// Connects every path (each on a reactor of its own) and one I/O queue per path. nullptr and *error naming
  /// the path when one fails, when the paths lead to different subsystems or when a namespace's identifiers
  /// differ between paths.
  static std::unique_ptr<MultipathSet> connect(const std::vector<ControllerOptions>& paths, Error* error);
  ~MultipathSet();
  MultipathSet(const MultipathSet&) = delete;
  MultipathSet& operator=(const MultipathSet&) = delete;

  std::size_t path_count() const { return paths_.size(); }
  const Controller& controller(std::size_t path) const { return *paths_.at(path).controller; }
  /// For admin commands on one path (same thread as the set).
  Controller& controller(std::size_t path) { return *paths_.at(path).controller; }
  /// The namespace as the first path describes it; null when unknown.
  const Namespace* find_namespace(std::uint32_t nsid) const;
  /// The ANA state (NVME_ANA_STATE_*) of `nsid` through `path`, as last read.
  std::uint8_t ana_state(std::size_t path, std::uint32_t nsid) const;
  /// The path the last command completed on (tests, statistics).
  std::size_t last_path() const { return last_path_; }
  /// Commands sent again on another path after a path failed them.
  std::uint64_t retries() const { return retries_; }

  /// The policy of the synchronous calls (and the default of create_queue); round-robin until set.
  void set_policy(PathPolicy policy) { chooser_ = PathChooser(policy); }
  PathPolicy policy() const { return chooser_.policy(); }

  /// An asynchronous queue for the calling thread: one I/O queue of `depth` entries per path (0: each path's
  /// io_queue_size), every one on `reactor` (connected here, on the set's thread); it takes as many commands as
  /// the smallest of them holds. Each path's controller needs an I/O queue to spare (ask for them with
  /// ControllerOptions::nr_io_queues). nullptr and *error naming the path when one fails.
  std::unique_ptr<MultipathQueue> create_queue(fabric::Reactor& reactor, std::uint16_t depth, PathPolicy policy,
                                               Error* error);

  nvme::Status read_sync(std::uint32_t nsid, std::uint64_t slba, std::uint32_t nlb, void* buf);
  nvme::Status write_sync(std::uint32_t nsid, std::uint64_t slba, std::uint32_t nlb, const void* buf,
                          bool fua = false);

  /// Maintains every path (events, reconnects) and re-reads the ANA logs that are due; I/O calls it too.
  void poll();

 private:
  struct Path {
    std::unique_ptr<Controller> controller;
    std::unique_ptr<IoQueue> queue;
    std::map<std::uint32_t, std::uint8_t> ana;  ///< NSID -> ANA state; absent: optimized
    bool ana_due = false;                        ///< Re-read log 0Ch before the next choice
    std::chrono::steady_clock::time_point ana_read_at{};
    /// ana for the NSIDs of nsids_, shared with the set's MultipathQueues (which also store what a status
    /// told them).
    std::unique_ptr<MultipathQueue::AnaBoard[]> board;
  };
  MultipathSet() = default;
  Error read_ana_log(Path& path);
  void publish_ana(Path& path);
  /// An unusable namespace through `path`, as the set read it or as a queue learnt it from a status.
  bool has_unusable_namespace(const Path& path) const;
  /// The best usable path for `nsid` not in `tried`, by the policy among equals; paths_.size() when none.
  std::size_t choose(std::uint32_t nsid, const std::vector<bool>& tried);
  template <typename Run>
  nvme::Status run(std::uint32_t nsid, Run&& run_on);

  std::vector<Path> paths_;
  std::vector<std::uint32_t> nsids_;  ///< The namespaces of the first path at connect time, sorted
  PathChooser chooser_;
  std::size_t last_path_ = 0;
  std::uint64_t retries_ = 0;
};

}  // namespace nvmf::initiator
