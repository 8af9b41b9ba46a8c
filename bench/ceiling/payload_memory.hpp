// The ceiling's stand-in for a RAM namespace: SIZE bytes of committed memory that every payload is copied into
// (a request's data, as a RAM write does) or sent from (a response's data, as the least a RAM read can do: one
// copy, by the kernel, straight from the namespace's memory), each at a random 4 KiB-aligned offset. Without it
// the ceiling moves payloads from one hot buffer, which no namespace spread over gigabytes can; with it the
// ceiling bounds a RAM namespace's reads and writes rather than a null one's.
#pragma once
#include <cstddef>
#include <cstdint>

namespace nvmf::bench {

class PayloadMemory {
 public:
  /// Maps `size` bytes (at least one 4 KiB block) and writes every page, so no fault happens under load.
  explicit PayloadMemory(std::size_t size);
  ~PayloadMemory();
  PayloadMemory(const PayloadMemory&) = delete;
  PayloadMemory& operator=(const PayloadMemory&) = delete;

  /// `length` bytes starting at a random block; the memory stays valid for the object's life. Throws
  /// std::runtime_error when `length` exceeds size().
  std::uint8_t* random_block(std::size_t length);
  std::size_t size() const { return size_; }
  const std::uint8_t* data() const { return base_; }

 private:
  std::uint8_t* base_ = nullptr;
  std::size_t size_ = 0;
  std::uint64_t state_ = 0x9e3779b97f4a7c15ull;  ///< xorshift64: a few instructions per pick, no allocation
};

}  // namespace nvmf::bench
