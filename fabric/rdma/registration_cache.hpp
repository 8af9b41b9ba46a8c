// Registration cache for application buffers on the host side: a buffer region is registered once and reused by
// every later request that falls inside it (ibv_reg_mr costs a system call and page pinning; SPDK keeps a memory
// map for the same reason). A request that extends or bridges cached regions registers their union, page
// aligned, and retires the regions it replaces; a retired region is deregistered once no request uses it.
//
// Caveat shared by every user-space registration cache: a registration pins the pages that were mapped when it
// was made. An application that unmaps a buffer and maps new memory at the same address must call forget() (or
// unregister_buffer() on the queue) first, or requests would move data to the old pages.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fabric/rdma/memory_registrar.hpp"

namespace nvmf::fabric::rdma {

class RegistrationCache {
 public:
  struct Entry {
    MemoryRegion region;
    std::uint32_t users = 0;  ///< Requests in flight using the region
    bool retired = false;     ///< Replaced by a larger region or forgotten; deregistered when users drops to 0
  };

  explicit RegistrationCache(MemoryRegistrar& registrar, std::size_t page_size = 4096);
  ~RegistrationCache();
  RegistrationCache(const RegistrationCache&) = delete;
  RegistrationCache& operator=(const RegistrationCache&) = delete;

  /// The registration covering [address, address + length), registering on a miss; counts one user until
  /// release(). nullptr and *error filled when registration fails.
  Entry* acquire(const void* address, std::size_t length, std::string* error);
  void release(Entry* entry);
  /// Drop every cached region overlapping [address, address + length) (in-flight users keep theirs alive).
  void forget(const void* address, std::size_t length);

  std::size_t regions() const { return live_.size(); }  ///< Cached (not retired) regions
  std::uint64_t hits() const { return hits_; }
  std::uint64_t misses() const { return misses_; }

 private:
  void retire(std::unique_ptr<Entry> entry);

  MemoryRegistrar& registrar_;
  std::size_t page_size_;
  std::map<std::uintptr_t, std::unique_ptr<Entry>> live_;  ///< By start address; regions never overlap
  std::vector<std::unique_ptr<Entry>> retired_;
  std::uint64_t hits_ = 0;
  std::uint64_t misses_ = 0;
};

}  // namespace nvmf::fabric::rdma
