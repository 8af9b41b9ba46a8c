// RAM backend: zero-filled anonymous memory (ram_memory.hpp), sparse by default or prefaulted at creation.
// Volatile by nature, so flush and FUA complete at once. On a sparse namespace, Deallocate and Write Zeroes give
// whole pages back with MADV_DONTNEED (they read back as zeroes) and clear the partial pages at the edges; a
// prefaulted one clears them in place instead, so its memory stays resident and the data path never faults.
// Reads copy (no lend_read): a read sent from the namespace's memory would be complete for the I/O queue while
// its bytes were still in the kernel, so a fused Compare and Write, which waits only for commands still at the
// backend, could land inside it and tear it.
#pragma once
#include "target/backends/backend.hpp"
#include "target/backends/ram_memory.hpp"

namespace nvmf::target {

class RamBackend final : public Backend {
 public:
  /// Throws (RamMemory's errors) when the memory cannot be mapped, committed or given huge pages.
  explicit RamBackend(std::uint64_t size_bytes, RamOptions options = {});

  std::uint64_t size_bytes() const override { return memory_.size(); }
  std::string describe() const override;
  /// The mapping itself (its residency and huge pages are what prefault and huge_pages promise).
  const RamMemory& memory() const { return memory_; }

  void read(fabric::Reactor&, BackendIo& io, std::uint64_t offset, std::byte* buffer, std::uint32_t length) override;
  bool consumes_write_data_inline() const override { return true; }  // a memcpy
  void write(fabric::Reactor&, BackendIo& io, std::uint64_t offset, const std::byte* buffer, std::uint32_t length,
             bool fua) override;
  void flush(fabric::Reactor&, BackendIo& io) override;
  void write_zeroes(fabric::Reactor&, BackendIo& io, std::uint64_t offset, std::uint64_t length) override;
  void deallocate(fabric::Reactor&, BackendIo& io, std::uint64_t offset, std::uint64_t length) override;
  int sync() override { return 0; }

 private:
  void zero(std::uint64_t offset, std::uint64_t length);

  RamMemory memory_;
  std::uint64_t huge_bytes_at_creation_ = 0;
};

}  // namespace nvmf::target
