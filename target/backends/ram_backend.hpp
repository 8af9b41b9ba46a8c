// RAM backend: zero-filled anonymous memory, allocated lazily by the kernel. Volatile by nature, so flush and FUA
// complete at once. Deallocate and write zeroes give whole pages back with MADV_DONTNEED (they read back as
// zeroes) and clear the partial pages at the edges. Reads lend the namespace's memory itself (lend_read), so the
// transport sends from it without a copy; MADV_DONTNEED under such a send is harmless (the pages read as zeroes).
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
  const std::byte* lend_read(std::uint64_t offset, std::uint32_t) const override { return memory_ + offset; }
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
