#include "target/io_stats.hpp"

#include <cmath>

namespace nvmf::target {

const char* op_class_name(OpClass op) {
  switch (op) {
    case OpClass::read: return "read";
    case OpClass::write: return "write";
    case OpClass::other: return "other";
  }
  return "?";
}

LatencySnapshot& LatencySnapshot::operator+=(const LatencySnapshot& o) {
  for (std::size_t i = 0; i < buckets.size(); ++i) buckets[i] += o.buckets[i];
  count += o.count;
  sum_ns += o.sum_ns;
  return *this;
}

std::uint64_t LatencySnapshot::quantile_ns(double q) const {
  std::uint64_t total = 0;
  for (std::uint64_t b : buckets) total += b;
  if (total == 0) return 0;
  // The rank of the q-quantile (1-based, rounded up), as Prometheus' histogram_quantile reads a bucket's bound.
  const auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(total)));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    seen += buckets[i];
    if (seen >= rank && seen > 0) return LatencyBuckets::upper_bound_ns(i);
  }
  return LatencyBuckets::upper_bound_ns(buckets.size() - 1);
}

OpSnapshot& OpSnapshot::operator+=(const OpSnapshot& o) {
  commands += o.commands;
  bytes += o.bytes;
  latency += o.latency;
  return *this;
}

IoSnapshot& IoSnapshot::operator+=(const IoSnapshot& o) {
  for (std::size_t i = 0; i < ops.size(); ++i) ops[i] += o.ops[i];
  for (const auto& [code, n] : o.errors) errors[code] += n;
  in_flight += o.in_flight;
  return *this;
}

std::uint64_t IoSnapshot::error_count() const {
  std::uint64_t n = 0;
  for (const auto& [code, count] : errors) n += count;
  return n;
}

std::uint64_t IoSnapshot::media_errors() const {
  std::uint64_t n = 0;
  for (const auto& [code, count] : errors)
    if (code != 0xFFFF && (code >> 8) == NVME_SCT_MEDIA) n += count;
  return n;
}

void IoStats::count_error(nvme::Status status) {
  // The status without DNR/More: what failed, not how to retry.
  const std::uint32_t code = std::uint32_t(status.sct()) << 8 | status.sc();
  for (std::size_t i = 0; i < kErrorSlots; ++i) {
    ErrorCell& cell = errors_[i];
    const std::uint32_t have = cell.code.load(std::memory_order_relaxed);
    if (have == kNoCode) {
      // Last slot: the overflow bucket for whatever does not fit.
      cell.code.store(i + 1 == kErrorSlots ? 0xFFFF : code, std::memory_order_release);
      return bump(cell.count, 1);
    }
    if (have == code || i + 1 == kErrorSlots) return bump(cell.count, 1);
  }
}

IoSnapshot IoStats::snapshot() const {
  IoSnapshot s;
  for (std::size_t o = 0; o < kOpClasses; ++o) {
    const OpCells& c = ops_[o];
    OpSnapshot& out = s.ops[o];
    out.commands = c.commands.load(std::memory_order_relaxed);
    out.bytes = c.bytes.load(std::memory_order_relaxed);
    out.latency.sum_ns = c.latency_sum_ns.load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < c.buckets.size(); ++i) {
      out.latency.buckets[i] = c.buckets[i].load(std::memory_order_relaxed);
      out.latency.count += out.latency.buckets[i];
    }
  }
  for (const ErrorCell& cell : errors_) {
    const std::uint32_t code = cell.code.load(std::memory_order_acquire);
    if (code == kNoCode) break;
    if (std::uint64_t n = cell.count.load(std::memory_order_relaxed)) s.errors[static_cast<std::uint16_t>(code)] += n;
  }
  return s;
}

IoTotals smart_totals(const IoSnapshot& s) {
  IoTotals t;
  t.read_commands = s.op(OpClass::read).commands;
  t.write_commands = s.op(OpClass::write).commands;
  t.bytes_read = s.op(OpClass::read).bytes;
  t.bytes_written = s.op(OpClass::write).bytes;
  t.media_errors = s.media_errors();
  return t;
}

}  // namespace nvmf::target
