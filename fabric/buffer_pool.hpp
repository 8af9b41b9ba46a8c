// Fixed-size data buffers owned by one reactor. Buffers are page-aligned (O_DIRECT backends read into them) and
// recycled: after warm-up the data path takes and returns buffers without touching the heap.
#pragma once
#include <cstddef>
#include <memory>
#include <vector>

namespace nvmf::fabric {

class BufferPool {
 public:
  explicit BufferPool(std::size_t buffer_size, std::size_t buffers_per_chunk = 16);
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  /// A buffer of buffer_size() bytes. Grows the pool by one chunk when empty (warm-up only).
  std::byte* get();
  void put(std::byte* buffer);

  std::size_t buffer_size() const { return buffer_size_; }
  std::size_t allocated() const { return allocated_; }  ///< Buffers ever created
  std::size_t available() const { return free_.size(); }

 private:
  void grow();

  std::size_t buffer_size_;
  std::size_t per_chunk_;
  std::size_t allocated_ = 0;
  std::vector<std::byte*> free_;
  std::vector<std::byte*> chunks_;
};

}  // namespace nvmf::fabric
