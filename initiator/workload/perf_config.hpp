// What a perf run does (spdk_nvme_perf's knobs) and what it measured.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fabric/adaptive_poll.hpp"
#include "initiator/multipath_policy.hpp"
#include "initiator/workload/latency_histogram.hpp"

namespace nvmf::initiator {

enum class PerfPattern { read, write, randread, randwrite, rw, randrw };

/// "read", "write", "randread", "randwrite", "rw", "randrw" (spdk_nvme_perf -w); nullopt otherwise.
std::optional<PerfPattern> parse_perf_pattern(const std::string& text);
const char* to_string(PerfPattern p);
inline bool is_random(PerfPattern p) {
  return p == PerfPattern::randread || p == PerfPattern::randwrite || p == PerfPattern::randrw;
}

struct PerfConfig {
  PerfPattern pattern = PerfPattern::randread;
  std::uint32_t io_size = 4096;      ///< Bytes per I/O: a multiple of the block size, at most the max transfer
  std::uint32_t queue_depth = 32;    ///< Outstanding I/Os per queue
  unsigned rwmixread = 50;           ///< Percentage of reads for rw / randrw
  std::chrono::milliseconds time{10000};
  unsigned queues = 1;               ///< Worker threads, each with its own reactor and I/O queue
  std::vector<int> cores;            ///< Pin worker i to cores[i % size] (empty: unpinned)
  /// Write a self-checking pattern over each worker's region first (at most half the time), then read it
  /// back for the rest of the time (random offsets for rand* patterns) and check every block.
  bool verify = false;
  std::uint64_t seed = 0;            ///< Verify pattern seed and random offsets; 0 picks one from the clock
  std::uint64_t region_bytes = 0;    ///< Bytes of the namespace to use (0: all), split between workers
  bool busy_poll = false;            ///< Workers spin on their completion queues instead of sleeping
  /// Without busy_poll: the workers' largest adaptive-polling window (fabric/adaptive_poll.hpp); 0: none
  std::chrono::microseconds adaptive_poll = fabric::kDefaultAdaptivePoll;
  /// I/Os per second over all workers, paced by submission time (0: as fast as the queue depth allows), to
  /// measure a target under a steady light load.
  std::uint64_t rate_iops = 0;
  /// Over a multipath set: how each worker's queue picks a path among the best ANA state.
  PathPolicy path_policy = PathPolicy::round_robin;
};

/// One phase of a run (a plain run has one; a verified run "write" then "read-verify").
struct PerfPhaseResult {
  PerfPhaseResult() = default;
  explicit PerfPhaseResult(std::string phase_name) : name(std::move(phase_name)) {}

  std::string name;
  std::uint64_t ios = 0;
  std::uint64_t reads = 0;
  std::uint64_t writes = 0;
  std::uint64_t bytes = 0;
  double seconds = 0;  ///< Longest worker time spent in the phase
  LatencyHistogram latency;

  double iops() const { return seconds > 0 ? static_cast<double>(ios) / seconds : 0; }
  double mib_per_second() const { return seconds > 0 ? static_cast<double>(bytes) / seconds / (1 << 20) : 0; }
};

struct PerfResult {
  std::vector<PerfPhaseResult> phases;
  std::uint64_t io_errors = 0;      ///< Commands that completed with an error status
  std::uint64_t verify_errors = 0;  ///< Blocks read back that did not match
  std::string first_error;          ///< The first failure, in words
  std::uint64_t seed = 0;
  /// Over a multipath set: commands sent again on another path after one failed them, and the commands each
  /// path completed (empty over one controller).
  std::uint64_t path_retries = 0;
  std::vector<std::uint64_t> path_ios;

  bool ok() const { return io_errors == 0 && verify_errors == 0 && first_error.empty(); }
};

/// Progress sampled once a second by the runner, for a live line.
struct PerfProgress {
  double elapsed_seconds = 0;
  std::string phase;
  double iops = 0;             ///< Over the last interval
  double mib_per_second = 0;
};

}  // namespace nvmf::initiator
