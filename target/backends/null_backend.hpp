// Null backend, for benchmarks: reads return zeroes, writes are discarded, everything completes inline.
// Nothing is stored, so every command is as cheap as the protocol allows. Reads up to kZeroSpan bytes lend one
// read-only anonymous mapping (every page the kernel's shared zero page) instead of zeroing a buffer per read.
#pragma once
#include "target/backends/backend.hpp"

namespace nvmf::target {

class NullBackend final : public Backend {
 public:
  static constexpr std::uint32_t kZeroSpan = 1u << 20;

  explicit NullBackend(std::uint64_t size_bytes);
  ~NullBackend() override;
  NullBackend(const NullBackend&) = delete;
  NullBackend& operator=(const NullBackend&) = delete;

  std::uint64_t size_bytes() const override { return size_; }
  std::string describe() const override;

  void read(fabric::Reactor&, BackendIo& io, std::uint64_t offset, std::byte* buffer, std::uint32_t length) override;
  const std::byte* lend_read(std::uint64_t, std::uint32_t length) const override {
    return length <= kZeroSpan ? zeros_ : nullptr;
  }
  bool consumes_write_data_inline() const override { return true; }
  void write(fabric::Reactor&, BackendIo& io, std::uint64_t, const std::byte*, std::uint32_t, bool) override {
    io.done(io, 0);
  }
  void flush(fabric::Reactor&, BackendIo& io) override { io.done(io, 0); }
  void write_zeroes(fabric::Reactor&, BackendIo& io, std::uint64_t, std::uint64_t) override { io.done(io, 0); }
  void deallocate(fabric::Reactor&, BackendIo& io, std::uint64_t, std::uint64_t) override { io.done(io, 0); }
  int sync() override { return 0; }

 private:
  std::uint64_t size_;
  const std::byte* zeros_ = nullptr;  ///< kZeroSpan bytes of PROT_READ zeroes; null if the mapping failed
};

}  // namespace nvmf::target
