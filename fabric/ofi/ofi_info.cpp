#include "fabric/ofi/ofi_info.hpp"

#include <rdma/fi_errno.h>

#include <cstring>

namespace nvmf::fabric::ofi {

std::string error_text(const char* what, int ret) {
  const int code = ret < 0 ? -ret : ret;
  return std::string(what) + ": " + fi_strerror(code) + " (" + std::to_string(ret) + ")";
}

InfoPtr get_info(const std::string& provider, const std::string& node, const std::string& service, bool passive,
                 std::string* error) {
  InfoPtr hints(fi_allocinfo());
  if (!hints) {
    *error = "fi_allocinfo: out of memory";
    return nullptr;
  }
  hints->ep_attr->type = FI_EP_MSG;
  hints->caps = FI_MSG | FI_RMA;
  // Operation contexts we pass always start with an fi_context2, so providers that need either may use them.
  hints->mode = FI_CONTEXT | FI_CONTEXT2;
  // Registration modes we handle (ofi_registrar.hpp): local buffers registered, keys chosen by the provider or
  // by us, remote addresses as virtual addresses or as offsets into the region.
  hints->domain_attr->mr_mode = FI_MR_LOCAL | FI_MR_VIRT_ADDR | FI_MR_ALLOCATED | FI_MR_PROV_KEY;
  // The controller receives a capsule in two pieces (SQE, then in-capsule data on an aligned buffer: fi_recvv).
  hints->rx_attr->iov_limit = 2;
  // Each queue's objects are used by its reactor's thread only.
  hints->domain_attr->threading = FI_THREAD_DOMAIN;
  hints->fabric_attr->prov_name = strdup(provider.c_str());
  fi_info* info = nullptr;
  const int ret = fi_getinfo(kApiVersion, node.c_str(), service.c_str(), passive ? FI_SOURCE : 0, hints.get(), &info);
  if (ret != 0 || !info) {
    *error = "libfabric provider '" + provider + "' for " + node + ":" + service + ": " +
             error_text("fi_getinfo", ret) + " (fi_info -l lists the providers)";
    return nullptr;
  }
  return InfoPtr(info);
}

std::shared_ptr<Fabric> Fabric::open(const fi_info& info, std::string* error) {
  auto f = std::make_shared<Fabric>();
  const int ret = fi_fabric(info.fabric_attr, &f->fabric_, nullptr);
  if (ret != 0) {
    *error = error_text("fi_fabric", ret);
    return nullptr;
  }
  return f;
}

Fabric::~Fabric() { close_fid(fabric_ ? &fabric_->fid : nullptr); }

}  // namespace nvmf::fabric::ofi
