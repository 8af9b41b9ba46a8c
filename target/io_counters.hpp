// Per-I/O-queue statistics for the SMART / Health log. Each queue's reactor is the only writer, so an update is
// a relaxed load and store (no atomic read-modify-write, no shared cache line between queues); the admin path
// sums the live queues plus what closed queues left behind, on demand.
#pragma once
#include <atomic>
#include <cstdint>

namespace nvmf::target {

struct IoTotals {
  std::uint64_t read_commands = 0;
  std::uint64_t write_commands = 0;
  std::uint64_t bytes_read = 0;
  std::uint64_t bytes_written = 0;
  std::uint64_t media_errors = 0;

  IoTotals& operator+=(const IoTotals& o) {
    read_commands += o.read_commands;
    write_commands += o.write_commands;
    bytes_read += o.bytes_read;
    bytes_written += o.bytes_written;
    media_errors += o.media_errors;
    return *this;
  }
};

class IoCounters {
 public:
  void count_read(std::uint64_t bytes) { bump(read_commands_, 1), bump(bytes_read_, bytes); }
  void count_write(std::uint64_t bytes) { bump(write_commands_, 1), bump(bytes_written_, bytes); }
  void count_media_error() { bump(media_errors_, 1); }

  IoTotals snapshot() const {
    IoTotals t;
    t.read_commands = read_commands_.load(std::memory_order_relaxed);
    t.write_commands = write_commands_.load(std::memory_order_relaxed);
    t.bytes_read = bytes_read_.load(std::memory_order_relaxed);
    t.bytes_written = bytes_written_.load(std::memory_order_relaxed);
    t.media_errors = media_errors_.load(std::memory_order_relaxed);
    return t;
  }

 private:
  static void bump(std::atomic<std::uint64_t>& c, std::uint64_t n) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::atomic<std::uint64_t> read_commands_{0};
  std::atomic<std::uint64_t> write_commands_{0};
  std::atomic<std::uint64_t> bytes_read_{0};
  std::atomic<std::uint64_t> bytes_written_{0};
  std::atomic<std::uint64_t> media_errors_{0};
};

}  // namespace nvmf::target
