#include "fabric/buffer_pool.hpp"

#include <cstdlib>
#include <new>

namespace nvmf::fabric {

namespace {
constexpr std::size_t kAlignment = 4096;
std::size_t round_up(std::size_t v, std::size_t a) { return (v + a - 1) / a * a; }
}  // namespace

BufferPool::BufferPool(std::size_t buffer_size, std::size_t buffers_per_chunk)
    : buffer_size_(round_up(buffer_size, kAlignment)), per_chunk_(buffers_per_chunk ? buffers_per_chunk : 1) {}

BufferPool::~BufferPool() {
  for (auto* chunk : chunks_) std::free(chunk);
}

void BufferPool::grow() {
  void* chunk = std::aligned_alloc(kAlignment, buffer_size_ * per_chunk_);
  if (!chunk) throw std::bad_alloc();
  chunks_.push_back(static_cast<std::byte*>(chunk));
  free_.reserve(allocated_ + per_chunk_);
  for (std::size_t i = per_chunk_; i-- > 0;) free_.push_back(static_cast<std::byte*>(chunk) + i * buffer_size_);
  allocated_ += per_chunk_;
}

std::byte* BufferPool::get() {
  if (free_.empty()) grow();
  auto* b = free_.back();
  free_.pop_back();
  return b;
}

void BufferPool::put(std::byte* buffer) { free_.push_back(buffer); }

}  // namespace nvmf::fabric
