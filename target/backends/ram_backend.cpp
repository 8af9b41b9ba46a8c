#include "target/backends/ram_backend.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

namespace nvmf::target {

RamBackend::RamBackend(std::uint64_t size_bytes, RamOptions options) : memory_(size_bytes, options) {
  if (options.huge_pages) huge_bytes_at_creation_ = memory_.huge_page_bytes();
}

std::string RamBackend::describe() const {
  std::string text = "ram:" + std::to_string(memory_.size()) + " bytes";
  if (memory_.options().prefault) text += ", prefaulted";
  // What the kernel really gave, which may be less than asked when memory is fragmented.
  if (memory_.options().huge_pages)
    text += ", " + std::to_string(huge_bytes_at_creation_ >> 20) + " MiB in huge pages";
  return text;
}

void RamBackend::read(fabric::Reactor&, BackendIo& io, std::uint64_t offset, std::byte* buffer,
                      std::uint32_t length) {
  std::memcpy(buffer, memory_.data() + offset, length);
  io.done(io, 0);
}

void RamBackend::write(fabric::Reactor&, BackendIo& io, std::uint64_t offset, const std::byte* buffer,
                       std::uint32_t length, bool) {
  std::memcpy(memory_.data() + offset, buffer, length);
  io.done(io, 0);
}

void RamBackend::flush(fabric::Reactor&, BackendIo& io) { io.done(io, 0); }

void RamBackend::zero(std::uint64_t offset, std::uint64_t length) {
  std::byte* base = memory_.data();
  // Prefaulted memory stays resident: giving pages back would bring the faults back (and split huge pages).
  if (memory_.options().prefault) {
    std::memset(base + offset, 0, length);
    return;
  }
  const std::uint64_t page = static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
  std::uint64_t end = offset + length;
  std::uint64_t first_page = (offset + page - 1) / page * page;
  std::uint64_t last_page = end / page * page;
  if (first_page >= last_page) {
    std::memset(base + offset, 0, length);
    return;
  }
  std::memset(base + offset, 0, first_page - offset);
  // On a private anonymous mapping, MADV_DONTNEED makes the pages read back as zeroes.
  if (madvise(base + first_page, last_page - first_page, MADV_DONTNEED) != 0)
    std::memset(base + first_page, 0, last_page - first_page);
  std::memset(base + last_page, 0, end - last_page);
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
