#include "target/backends/null_backend.hpp"

#include <sys/mman.h>

#include <cstring>

namespace nvmf::target {

NullBackend::NullBackend(std::uint64_t size_bytes) : size_(size_bytes) {
  // Read-only and never written: the kernel maps its zero page behind every page, so the span costs no memory
  // and stays in cache. Without it (mmap refused) reads fall back to zeroing the caller's buffer.
  void* p = mmap(nullptr, kZeroSpan, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p != MAP_FAILED) zeros_ = static_cast<const std::byte*>(p);
}

NullBackend::~NullBackend() {
  if (zeros_) munmap(const_cast<std::byte*>(zeros_), kZeroSpan);
}

std::string NullBackend::describe() const { return "null:" + std::to_string(size_) + " bytes"; }

void NullBackend::read(fabric::Reactor&, BackendIo& io, std::uint64_t, std::byte* buffer, std::uint32_t length) {
  std::memset(buffer, 0, length);
  io.done(io, 0);
}

}  // namespace nvmf::target
