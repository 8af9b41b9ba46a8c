// Memory registration behind an interface: the verbs implementation (ibv_reg_mr on a protection domain) and a
// fake in the unit tests, so that the registration cache and the registered pools are testable without a device.
#pragma once
#include <infiniband/verbs.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace nvmf::fabric::rdma {

struct MemoryRegion {
  std::uintptr_t start = 0;
  std::size_t length = 0;
  std::uint32_t lkey = 0;
  std::uint32_t rkey = 0;
  void* handle = nullptr;  ///< ibv_mr* for the verbs registrar
};

class MemoryRegistrar {
 public:
  virtual ~MemoryRegistrar() = default;
  /// Register [start, start + length). False and *error filled on failure.
  virtual bool register_region(std::uintptr_t start, std::size_t length, MemoryRegion* out, std::string* error) = 0;
  virtual void deregister_region(const MemoryRegion& region) = 0;
};

/// ibv_reg_mr on one protection domain with fixed access flags.
class VerbsRegistrar final : public MemoryRegistrar {
 public:
  VerbsRegistrar(ibv_pd* pd, int access) : pd_(pd), access_(access) {}
  bool register_region(std::uintptr_t start, std::size_t length, MemoryRegion* out, std::string* error) override;
  void deregister_region(const MemoryRegion& region) override;

 private:
  ibv_pd* pd_;
  int access_;
};

}  // namespace nvmf::fabric::rdma
