// Per-queue I/O statistics: commands, bytes and a latency histogram per operation class, failures by NVMe
// status. Each block has one writer, the queue's reactor, so an update is relaxed loads and stores (no atomic
// read-modify-write, no lock, nothing shared between queues); the control path (SMART log, `target-ctl stats`,
// the Prometheus endpoint) reads with relaxed loads and sums on demand. A total may be a few commands behind.
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <map>

#include "nvme/latency_buckets.hpp"
#include "nvme/status.hpp"

namespace nvmf::target {

/// Read (and Compare, which reads, as the SMART log counts it), Write, and the rest (Flush, Write Zeroes, DSM).
enum class OpClass : std::uint8_t { read, write, other };
inline constexpr std::size_t kOpClasses = 3;
const char* op_class_name(OpClass op);

using nvme::LatencyBuckets;

/// What a histogram holds at one moment, as plain numbers.
struct LatencySnapshot {
  std::array<std::uint64_t, LatencyBuckets::kCount> buckets{};
  std::uint64_t count = 0;
  std::uint64_t sum_ns = 0;

  LatencySnapshot& operator+=(const LatencySnapshot& o);
  /// Upper bound (ns) of the bucket holding quantile `q` (0..1); 0 when empty.
  std::uint64_t quantile_ns(double q) const;
};

struct OpSnapshot {
  std::uint64_t commands = 0;  ///< completed successfully
  std::uint64_t bytes = 0;
  LatencySnapshot latency;

  OpSnapshot& operator+=(const OpSnapshot& o);
};

struct IoSnapshot {
  std::array<OpSnapshot, kOpClasses> ops;
  std::map<std::uint16_t, std::uint64_t> errors;  ///< (SCT << 8 | SC) -> failed commands
  std::uint64_t in_flight = 0;                    ///< queue level only; summed upwards

  IoSnapshot& operator+=(const IoSnapshot& o);
  const OpSnapshot& op(OpClass c) const { return ops[static_cast<std::size_t>(c)]; }
  std::uint64_t error_count() const;
  /// Failures with a Media and Data Integrity status (SCT 2h): the SMART log's Media and Data Integrity Errors.
  std::uint64_t media_errors() const;
};

/// The writer side: one per (I/O queue, NSID), written by that queue's reactor only.
class IoStats {
 public:
  void count_success(OpClass op, std::uint64_t bytes, std::uint64_t latency_ns) {
    OpCells& c = ops_[static_cast<std::size_t>(op)];
    bump(c.commands, 1);
    if (bytes) bump(c.bytes, bytes);
    bump(c.latency_sum_ns, latency_ns);
    bump(c.buckets[LatencyBuckets::index(latency_ns)], 1);
  }
  void count_error(nvme::Status status);

  IoSnapshot snapshot() const;

 private:
  static void bump(std::atomic<std::uint64_t>& c, std::uint64_t n) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  struct OpCells {
    std::atomic<std::uint64_t> commands{0};
    std::atomic<std::uint64_t> bytes{0};
    std::atomic<std::uint64_t> latency_sum_ns{0};
    std::array<std::atomic<std::uint64_t>, LatencyBuckets::kCount> buckets{};
  };
  /// Failures by status in a few fixed slots (a queue sees few distinct statuses); the rest share the last slot,
  /// reported as status FFFFh. Slot codes are written before their count, so a reader never sees a count under
  /// the wrong code.
  static constexpr std::size_t kErrorSlots = 8;
  static constexpr std::uint32_t kNoCode = 0x10000;
  struct ErrorCell {
    std::atomic<std::uint32_t> code{kNoCode};
    std::atomic<std::uint64_t> count{0};
  };
  std::array<OpCells, kOpClasses> ops_;
  std::array<ErrorCell, kErrorSlots> errors_;
};

/// The SMART / Health log's view of the totals.
struct IoTotals {
  std::uint64_t read_commands = 0;
  std::uint64_t write_commands = 0;
  std::uint64_t bytes_read = 0;
  std::uint64_t bytes_written = 0;
  std::uint64_t media_errors = 0;
};
IoTotals smart_totals(const IoSnapshot& s);

}  // namespace nvmf::target
