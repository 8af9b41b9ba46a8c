// Fault-injecting backend: wraps another backend and fails or delays the I/O a FaultSpec selects, so hosts and
// tests meet the errors a failing drive gives without one. A failed read or write completes with the errno a
// real device returns (EIO for a media error, ENOSPC when a thin device runs out of space); backend_status()
// turns that into the NVMe status, as for any backend. A delayed command waits on the reactor's timers, so
// the reactor keeps serving everything else meanwhile. Everything not selected goes to the wrapped backend
// unchanged. Counters are atomic: one namespace is shared by the reactors of every connection.
#pragma once
#include <atomic>
#include <memory>

#include "target/backends/backend.hpp"
#include "target/backends/fault_spec.hpp"

namespace nvmf::target {

class FaultBackend final : public Backend {
 public:
  /// `lba_shift`: log2 of the namespace's block size, to place LBA selectors on byte offsets.
  FaultBackend(std::shared_ptr<Backend> inner, FaultSpec spec, std::uint8_t lba_shift);

  std::uint64_t size_bytes() const override { return inner_->size_bytes(); }
  std::string describe() const override;
  std::uint32_t block_size() const override { return inner_->block_size(); }
  bool deallocate_reads_zeroes() const override { return inner_->deallocate_reads_zeroes(); }

  void read(fabric::Reactor& reactor, BackendIo& io, std::uint64_t offset, std::byte* buffer,
            std::uint32_t length) override;
  void write(fabric::Reactor& reactor, BackendIo& io, std::uint64_t offset, const std::byte* buffer,
             std::uint32_t length, bool fua) override;
  void flush(fabric::Reactor& reactor, BackendIo& io) override;
  void write_zeroes(fabric::Reactor& reactor, BackendIo& io, std::uint64_t offset, std::uint64_t length) override;
  void deallocate(fabric::Reactor& reactor, BackendIo& io, std::uint64_t offset, std::uint64_t length) override;

  int refresh_size() override { return inner_->refresh_size(); }
  int sync() override { return inner_->sync(); }

  /// Faults injected so far (errors and delays), for tests and logs.
  std::uint64_t injected() const { return injected_.load(std::memory_order_relaxed); }

 private:
  enum class Op : std::uint8_t { read, write, flush, write_zeroes, deallocate };
  struct Counter {
    std::atomic<std::uint64_t> value{0};
  };

  bool matches(const FaultSelector& sel, Counter& counter, std::uint64_t offset, std::uint64_t length,
               bool has_range);
  /// The errno to fail this command with (0: none), counting it against every selector that applies.
  int error_for(Op op, std::uint64_t offset, std::uint64_t length);
  bool delayed(Op op, std::uint64_t offset, std::uint64_t length);
  /// Runs `op` now: fails it with `error` or hands it to the wrapped backend.
  void execute(fabric::Reactor& reactor, BackendIo& io, Op op, int error, std::uint64_t offset, std::byte* buffer,
               std::uint64_t length, bool fua);
  void submit(fabric::Reactor& reactor, BackendIo& io, Op op, std::uint64_t offset, std::byte* buffer,
              std::uint64_t length, bool fua);
  static void on_delay_over(BackendIo& io);

  std::shared_ptr<Backend> inner_;
  FaultSpec spec_;
  std::uint8_t lba_shift_;
  Counter read_error_count_, write_error_count_, write_nospace_count_, delay_count_;
  std::atomic<std::uint64_t> draws_{0};
  std::atomic<std::uint64_t> injected_{0};
};

}  // namespace nvmf::target
