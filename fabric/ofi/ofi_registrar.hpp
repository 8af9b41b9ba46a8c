// Memory registration on a libfabric domain behind the registrar interface the registered pools and the
// registration cache use (fabric/rdma/memory_registrar.hpp). What NVMe needs from a registration is what a Keyed
// SGL Data Block descriptor carries: a 64-bit address and a 32-bit key (NVMe base spec 4.3.2). libfabric keys are
// 64-bit: with FI_MR_PROV_KEY the provider picks them and a key above 32 bits cannot be sent (the registration
// fails, naming it); without it we choose them, from a per-domain counter. Without FI_MR_VIRT_ADDR the remote
// side addresses a region by offset from its start, not by virtual address (remote_address() below).
#pragma once
#include <rdma/fabric.h>
#include <rdma/fi_domain.h>

#include <cstdint>

#include "fabric/rdma/memory_registrar.hpp"

namespace nvmf::fabric::ofi {

class OfiRegistrar final : public rdma::MemoryRegistrar {
 public:
  /// `access`: FI_SEND, FI_RECV, FI_READ, FI_WRITE, FI_REMOTE_READ, FI_REMOTE_WRITE as the buffers are used.
  /// `mr_mode`: the domain's (fi_info.domain_attr->mr_mode). `next_key` is shared by every registrar of the domain.
  OfiRegistrar(fid_domain* domain, std::uint64_t access, int mr_mode, std::uint32_t* next_key)
      : domain_(domain), access_(access), mr_mode_(mr_mode), next_key_(next_key) {}
  bool register_region(std::uintptr_t start, std::size_t length, rdma::MemoryRegion* out, std::string* error) override;
  void deregister_region(const rdma::MemoryRegion& region) override;

  /// The descriptor a local operation on the region passes (nullptr where the provider needs none).
  static void* descriptor(void* handle) { return handle ? fi_mr_desc(static_cast<fid_mr*>(handle)) : nullptr; }
  /// The address a Keyed SGL names for `address` inside a region that starts at `region_start`.
  static std::uint64_t remote_address(int mr_mode, std::uintptr_t region_start, const void* address) {
    const auto a = reinterpret_cast<std::uintptr_t>(address);
    return (mr_mode & FI_MR_VIRT_ADDR) ? a : a - region_start;
  }

 private:
  fid_domain* domain_;
  std::uint64_t access_;
  int mr_mode_;
  std::uint32_t* next_key_;
};

}  // namespace nvmf::fabric::ofi
