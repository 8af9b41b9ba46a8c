// Fixed-size data buffers registered for RDMA, owned by one queue. Chunks are allocated and registered as the
// queue first needs them (warm-up) up to a cap; after that buffers are recycled and the data path allocates
// nothing. The controller queue takes its RDMA READ/WRITE buffers here, the host queue its bounce buffers.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fabric/rdma/memory_registrar.hpp"

namespace nvmf::fabric::rdma {

class RegisteredPool {
 public:
  struct Buffer {
    std::byte* data = nullptr;
    std::uint32_t lkey = 0;
    std::uint32_t rkey = 0;
    void* handle = nullptr;  ///< The chunk's registration (ibv_mr* with the verbs registrar)
    explicit operator bool() const { return data != nullptr; }
  };

  /// Buffers of `buffer_size` bytes (rounded up to 4 KiB), `per_chunk` per registration, `max_buffers` at most.
  RegisteredPool(MemoryRegistrar& registrar, std::size_t buffer_size, std::size_t per_chunk, std::size_t max_buffers);
  ~RegisteredPool();
  RegisteredPool(const RegisteredPool&) = delete;
  RegisteredPool& operator=(const RegisteredPool&) = delete;

  /// A free buffer; an empty Buffer when max_buffers are out or registration failed (the caller waits for put()).
  Buffer get();
  void put(const Buffer& buffer);

  std::size_t buffer_size() const { return buffer_size_; }
  std::size_t allocated() const { return allocated_; }
  std::size_t available() const { return free_.size(); }
  const std::string& last_error() const { return last_error_; }

 private:
  bool grow();

  MemoryRegistrar& registrar_;
  std::size_t buffer_size_;
  std::size_t per_chunk_;
  std::size_t max_buffers_;
  std::size_t allocated_ = 0;
  std::vector<Buffer> free_;
  std::vector<std::pair<std::byte*, MemoryRegion>> chunks_;
  std::string last_error_;
};

}  // namespace nvmf::fabric::rdma
