#include "target/backends/ram_backend.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace nvmf::target {

RamBackend::RamBackend(std::uint64_t size_bytes) : size_(size_bytes) {
  // MAP_NORESERVE: a large RAM namespace only costs the pages the host actually writes.
  void* p = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "mmap of RAM namespace");
  memory_ = static_cast<std::byte*>(p);
}

RamBackend::~RamBackend() {
  if (memory_) munmap(memory_, size_);
}

std::string RamBackend::describe() const { return "ram:" + std::to_string(size_) + " bytes"; }

void RamBackend::read(fabric::Reactor&, BackendIo& io, std::uint64_t offset, std::byte* buffer,
                      std::uint32_t length) {
  std::memcpy(buffer, memory_ + offset, length);
  io.done(io, 0);
}

void RamBackend::write(fabric::Reactor&, BackendIo& io, std::uint64_t offset, const std::byte* buffer,
                       std::uint32_t length, bool) {
  std::memcpy(memory_ + offset, buffer, length);
  io.done(io, 0);
}

void RamBackend::flush(fabric::Reactor&, BackendIo& io) { io.done(io, 0); }

void RamBackend::zero(std::uint64_t offset, std::uint64_t length) {
  const std::uint64_t page = static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
  std::uint64_t end = offset + length;
  std::uint64_t first_page = (offset + page - 1) / page * page;
  std::uint64_t last_page = end / page * page;
  if (first_page >= last_page) {
    std::memset(memory_ + offset, 0, length);
    return;
  }
  std::memset(memory_ + offset, 0, first_page - offset);
  // On a private anonymous mapping, MADV_DONTNEED makes the pages read back as zeroes.
  if (madvise(memory_ + first_page, last_page - first_page, MADV_DONTNEED) != 0)
    std::memset(memory_ + first_page, 0, last_page - first_page);
  std::memset(memory_ + last_page, 0, end - last_page);
}

void RamBackend::write_zeroes(fabric::Reactor&, BackendIo& io, std::uint64_t offset, std::uint64_t length) {
  zero(offset, length);
  io.done(io, 0);
}

void RamBackend::deallocate(fabric::Reactor&, BackendIo& io, std::uint64_t offset, std::uint64_t length) {
  zero(offset, length);
  io.done(io, 0);
}

}  // namespace nvmf::target
