#include "fabric/rdma/registered_pool.hpp"

#include <algorithm>
#include <cstdlib>

namespace nvmf::fabric::rdma {

namespace {
constexpr std::size_t kAlignment = 4096;
}

RegisteredPool::RegisteredPool(MemoryRegistrar& registrar, std::size_t buffer_size, std::size_t per_chunk,
                               std::size_t max_buffers)
    : registrar_(registrar),
      buffer_size_((std::max<std::size_t>(buffer_size, 1) + kAlignment - 1) / kAlignment * kAlignment),
      per_chunk_(std::max<std::size_t>(per_chunk, 1)),
      max_buffers_(max_buffers) {}

RegisteredPool::~RegisteredPool() {
  for (auto& [memory, region] : chunks_) {
    registrar_.deregister_region(region);
    std::free(memory);
  }
}

bool RegisteredPool::grow() {
  const std::size_t count = std::min(per_chunk_, max_buffers_ - allocated_);
  if (count == 0) return false;
  auto* memory = static_cast<std::byte*>(std::aligned_alloc(kAlignment, buffer_size_ * count));
  if (!memory) {
    last_error_ = "out of memory for " + std::to_string(count) + " RDMA buffers";
    return false;
  }
  MemoryRegion region;
  if (!registrar_.register_region(reinterpret_cast<std::uintptr_t>(memory), buffer_size_ * count, &region,
                                  &last_error_)) {
    std::free(memory);
    return false;
  }
  chunks_.emplace_back(memory, region);
  free_.reserve(max_buffers_);
  for (std::size_t i = count; i-- > 0;)
    free_.push_back(Buffer{memory + i * buffer_size_, region.lkey, region.rkey, region.handle});
  allocated_ += count;
  return true;
}

RegisteredPool::Buffer RegisteredPool::get() {
  if (free_.empty() && !grow()) return {};
  Buffer b = free_.back();
  free_.pop_back();
  return b;
}

void RegisteredPool::put(const Buffer& buffer) {
  if (buffer) free_.push_back(buffer);
}

}  // namespace nvmf::fabric::rdma
