#include "bench/ceiling/payload_memory.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <system_error>

namespace nvmf::bench {

namespace {
constexpr std::size_t kBlock = 4096;
}

PayloadMemory::PayloadMemory(std::size_t size) : size_(size) {
  if (size < kBlock) throw std::invalid_argument("payload memory of " + std::to_string(size) + " bytes (want >= 4096)");
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (p == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "mmap payload memory");
  base_ = static_cast<std::uint8_t*>(p);
  // A pattern rather than zeroes: every page is then a page of its own, never the shared zero page.
  std::memset(base_, 0x5a, size_);
}

PayloadMemory::~PayloadMemory() { ::munmap(base_, size_); }

std::uint8_t* PayloadMemory::random_block(std::size_t length) {
  // A peer's request, not a caller's mistake: the server ends that connection (runtime_error), not the process.
  if (length > size_)
    throw std::runtime_error("a payload of " + std::to_string(length) + " bytes does not fit the " +
                             std::to_string(size_) + " bytes of payload memory");
  state_ ^= state_ << 13;
  state_ ^= state_ >> 7;
  state_ ^= state_ << 17;
  const std::size_t blocks = (size_ - length) / kBlock + 1;  // starts that leave room for `length`
  // Multiply-shift instead of `%`: a 64-bit division would cost the ceiling more than the pick is worth.
  const auto pick = static_cast<std::size_t>((static_cast<unsigned __int128>(state_) * blocks) >> 64);
  return base_ + pick * kBlock;
}

}  // namespace nvmf::bench
