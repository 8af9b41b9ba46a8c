// Per-I/O-queue statistics of the host library: commands, bytes, failures and a latency histogram. The queue's
// thread is the only writer (relaxed load + store, no atomic read-modify-write, no lock); other threads read
// with relaxed loads (nvmf_ctrl_get_stats sums a controller's queues). Latency runs from submission to
// completion of successful commands: the submission time is already read for the I/O timeout, so counting costs
// one clock read per command.
#pragma once
#include <array>
#include <atomic>
#include <cstdint>

#include "nvme/latency_buckets.hpp"

namespace nvmf::initiator {

struct IoStatsSnapshot {
  std::uint64_t read_commands = 0;   ///< Read and Compare, completed successfully
  std::uint64_t write_commands = 0;  ///< Write
  std::uint64_t other_commands = 0;  ///< Flush, Write Zeroes, Dataset Management
  std::uint64_t bytes_read = 0;
  std::uint64_t bytes_written = 0;
  std::uint64_t errors = 0;          ///< Completed with an NVMe error status or a host-side (path) status
  std::uint64_t outstanding = 0;     ///< Submitted and not completed (parked ones included)
  std::uint64_t latency_sum_ns = 0;
  std::array<std::uint64_t, nvme::LatencyBuckets::kCount> latency_buckets{};

  IoStatsSnapshot& operator+=(const IoStatsSnapshot& o);
  std::uint64_t latency_count() const;
  /// Upper bound (ns) of the bucket holding quantile `q` (0..1); 0 without samples.
  std::uint64_t latency_quantile_ns(double q) const;
};

class IoStats {
 public:
  enum class Op : std::uint8_t { read, write, other };

  void count_success(Op op, std::uint64_t bytes, std::uint64_t latency_ns) {
    switch (op) {
      case Op::read: bump(read_commands_, 1), bump(bytes_read_, bytes); break;
      case Op::write: bump(write_commands_, 1), bump(bytes_written_, bytes); break;
      case Op::other: bump(other_commands_, 1); break;
    }
    bump(latency_sum_ns_, latency_ns);
    bump(buckets_[nvme::LatencyBuckets::index(latency_ns)], 1);
  }
  void count_error() { bump(errors_, 1); }
  /// A command accepted (sent, or parked while reconnecting): outstanding = submitted - completed.
  void count_submitted() { bump(submitted_, 1); }

  IoStatsSnapshot snapshot() const;

 private:
  static void bump(std::atomic<std::uint64_t>& c, std::uint64_t n) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::atomic<std::uint64_t> read_commands_{0}, write_commands_{0}, other_commands_{0};
  std::atomic<std::uint64_t> bytes_read_{0}, bytes_written_{0}, errors_{0}, latency_sum_ns_{0}, submitted_{0};
  std::array<std::atomic<std::uint64_t>, nvme::LatencyBuckets::kCount> buckets_{};
};

}  // namespace nvmf::initiator
