// One perf worker: a thread with its own reactor and I/O queue (or multipath queue, one I/O queue per path)
// keeping queue_depth I/Os in flight over its own slice of the namespace. Each slot owns one buffer, allocated before the clock starts; completions resubmit
// from the callback, so the measured loop allocates nothing.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fabric/reactor.hpp"
#include "initiator/io_queue.hpp"
#include "initiator/multipath_queue.hpp"
#include "initiator/namespace.hpp"
#include "initiator/workload/perf_config.hpp"

namespace nvmf::initiator {

class PerfWorker {
 public:
  using Clock = std::chrono::steady_clock;

  /// The worker's slice: `region_blocks` blocks from `region_start` (a multiple of the I/O size).
  PerfWorker(unsigned index, const PerfConfig& config, const Namespace& ns, std::uint64_t region_start,
             std::uint64_t region_blocks, std::uint64_t seed);
  ~PerfWorker();
  PerfWorker(const PerfWorker&) = delete;
  PerfWorker& operator=(const PerfWorker&) = delete;

  /// Hand over the reactor and the queue connected on it (done on the main thread before run()).
  void attach(std::unique_ptr<fabric::Reactor> reactor, std::unique_ptr<IoQueue> queue);
  /// The same over a multipath set: the queue's paths all live on `reactor`.
  void attach(std::unique_ptr<fabric::Reactor> reactor, std::unique_ptr<MultipathQueue> queue);
  /// The multipath queue (null over one controller), for its retry and per-path counts once run() returned.
  const MultipathQueue* multipath_queue() const { return multipath_.get(); }
  /// Run every phase until `end`; call on the worker's thread.
  void run(Clock::time_point start, Clock::time_point end);
  /// Close the queue (destroying it on the owning thread's behalf after the worker thread is joined).
  void detach();

  // Live counters for the progress line (relaxed: approximate is fine).
  std::atomic<std::uint64_t> ios_done{0};
  std::atomic<std::uint64_t> bytes_done{0};
  std::atomic<unsigned> phase_index{0};
  std::atomic<bool> finished{false};

  // Results, valid once run() returned.
  std::vector<PerfPhaseResult> phases;
  std::uint64_t io_errors = 0;
  std::uint64_t verify_errors = 0;
  std::string first_error;

 private:
  enum class PhaseKind { workload, fill, read_verify };
  struct Slot {
    PerfWorker* worker = nullptr;
    void* buffer = nullptr;
    std::uint64_t slba = 0;
    bool is_read = false;
    Clock::time_point start;
  };

  static void on_complete(void* arg, nvme::Status status);
  void run_phase(PhaseKind kind, Clock::time_point deadline);
  void submit_next(Slot& slot);
  /// Submits paced slots whose time has come; returns how long until the next one is due (or `idle`).
  std::chrono::milliseconds submit_due(std::chrono::milliseconds idle);
  SubmitResult submit(Slot& slot);
  void process_completions(std::chrono::milliseconds max_wait);
  bool queue_alive() const;
  std::string queue_error() const;
  void fail(std::string message);
  std::uint64_t random();

  unsigned index_;
  PerfConfig config_;
  Namespace ns_;
  std::uint64_t region_start_;
  std::uint32_t blocks_per_io_;
  std::uint64_t ios_in_region_;
  std::uint64_t seed_;
  std::uint64_t rng_;
  std::unique_ptr<fabric::Reactor> reactor_;
  std::unique_ptr<IoQueue> queue_;              ///< One controller, or
  std::unique_ptr<MultipathQueue> multipath_;   ///< a multipath set
  std::vector<Slot> slots_;
  // Pacing (PerfConfig::rate_iops): completed slots wait here for their submission time.
  std::chrono::nanoseconds interval_{0};   ///< Between submissions of this worker; zero: no pacing
  Clock::time_point next_send_;
  std::vector<Slot*> paced_;              ///< Reserved to the queue depth: no allocation while running

  // Current phase.
  PhaseKind kind_ = PhaseKind::workload;
  PerfPhaseResult* phase_ = nullptr;
  Clock::time_point deadline_;
  bool stopping_ = false;
  std::uint32_t outstanding_ = 0;
  std::uint64_t cursor_ = 0;         ///< Next sequential I/O index in the region
  std::uint64_t filled_ios_ = 0;     ///< I/Os of the region written by the fill phase (read-verify range)
};

}  // namespace nvmf::initiator
