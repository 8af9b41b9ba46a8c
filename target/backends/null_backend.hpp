// Null backend, for benchmarks: reads return zeroes, writes are discarded, everything completes inline.
// Nothing is stored, so every command is as cheap as the protocol allows.
#pragma once
#include "target/backends/backend.hpp"

namespace nvmf::target {

class NullBackend final : public Backend {
 public:
  explicit NullBackend(std::uint64_t size_bytes) : size_(size_bytes) {}

  std::uint64_t size_bytes() const override { return size_; }
  std::string describe() const override;

  void read(fabric::Reactor&, BackendIo& io, std::uint64_t offset, std::byte* buffer, std::uint32_t length) override;
  void write(fabric::Reactor&, BackendIo& io, std::uint64_t, const std::byte*, std::uint32_t, bool) override {
    io.done(io, 0);
  }
  void flush(fabric::Reactor&, BackendIo& io) override { io.done(io, 0); }
  void write_zeroes(fabric::Reactor&, BackendIo& io, std::uint64_t, std::uint64_t) override { io.done(io, 0); }
  void deallocate(fabric::Reactor&, BackendIo& io, std::uint64_t, std::uint64_t) override { io.done(io, 0); }
  int sync() override { return 0; }

 private:
  std::uint64_t size_;
};

}  // namespace nvmf::target
