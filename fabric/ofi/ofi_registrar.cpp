#include "fabric/ofi/ofi_registrar.hpp"

#include "fabric/ofi/ofi_info.hpp"

namespace nvmf::fabric::ofi {

bool OfiRegistrar::register_region(std::uintptr_t start, std::size_t length, rdma::MemoryRegion* out,
                                   std::string* error) {
  const bool provider_keys = (mr_mode_ & FI_MR_PROV_KEY) != 0;
  const std::uint64_t requested = provider_keys ? 0 : (*next_key_)++;
  fid_mr* mr = nullptr;
  const int ret = fi_mr_reg(domain_, reinterpret_cast<void*>(start), length, access_, 0, requested, 0, &mr, nullptr);
  if (ret != 0) {
    *error = error_text("fi_mr_reg", ret);
    return false;
  }
  const std::uint64_t key = fi_mr_key(mr);
  if (key == FI_KEY_NOTAVAIL || key > 0xFFFFFFFFu) {
    // A Keyed SGL has 32 bits for the key: a wider provider key cannot be named to the peer.
    fi_close(&mr->fid);
    *error = "fi_mr_reg: the provider's key " + std::to_string(key) + " does not fit a keyed SGL's 32 bits";
    return false;
  }
  out->start = start;
  out->length = length;
  out->lkey = 0;
  out->rkey = static_cast<std::uint32_t>(key);
  out->handle = mr;
  return true;
}

void OfiRegistrar::deregister_region(const rdma::MemoryRegion& region) {
  if (region.handle) fi_close(&static_cast<fid_mr*>(region.handle)->fid);
}

}  // namespace nvmf::fabric::ofi
