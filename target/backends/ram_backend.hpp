// RAM backend: zero-filled anonymous memory, allocated lazily by the kernel. Volatile by nature, so flush and FUA
// complete at once. Deallocate and write zeroes give whole pages back with MADV_DONTNEED (they read back as
// zeroes) and clear the partial pages at the edges. Reads copy (no lend_read): a read sent from the namespace's
// memory would be complete for the I/O queue while its bytes were still in the kernel, so a fused Compare and
// Write, which waits only for commands still at the backend, could land inside it and tear it.
#pragma once
#include "target/backends/backend.hpp"

namespace nvmf::target {

class RamBackend final : public Backend {
 public:
  /// Throws std::system_error when the mapping fails.
  explicit RamBackend(std::uint64_t size_bytes);
  ~RamBackend() override;
  RamBackend(const RamBackend&) = delete;
  RamBackend& operator=(const RamBackend&) = delete;

  std::uint64_t size_bytes() const override { return size_; }
  std::string describe() const override;

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

  std::uint64_t size_;
  std::byte* memory_ = nullptr;
};

}  // namespace nvmf::target
