#include "fabric/rdma/memory_registrar.hpp"

#include <cerrno>
#include <cstring>

namespace nvmf::fabric::rdma {

bool VerbsRegistrar::register_region(std::uintptr_t start, std::size_t length, MemoryRegion* out,
                                     std::string* error) {
  ibv_mr* mr = ibv_reg_mr(pd_, reinterpret_cast<void*>(start), length, access_);
  if (!mr) {
    if (error) *error = "ibv_reg_mr of " + std::to_string(length) + " bytes: " + std::strerror(errno);
    return false;
  }
  *out = MemoryRegion{start, length, mr->lkey, mr->rkey, mr};
  return true;
}

void VerbsRegistrar::deregister_region(const MemoryRegion& region) {
  if (region.handle) ibv_dereg_mr(static_cast<ibv_mr*>(region.handle));
}

}  // namespace nvmf::fabric::rdma
