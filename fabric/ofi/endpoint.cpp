#include "fabric/ofi/endpoint.hpp"

#include <rdma/fi_errno.h>

#include <algorithm>
#include <cstring>

namespace nvmf::fabric::ofi {

std::unique_ptr<Endpoint> Endpoint::open(std::shared_ptr<Fabric> fabric, fi_info& info, const EndpointSizes& sizes,
                                         std::string* error) {
  auto e = open_domain(std::move(fabric), info, sizes, error);
  if (!e || !e->open_endpoint(info, error)) return nullptr;
  return e;
}

std::unique_ptr<Endpoint> Endpoint::open_domain(std::shared_ptr<Fabric> fabric, fi_info& info,
                                                const EndpointSizes& sizes, std::string* error) {
  std::unique_ptr<Endpoint> e(new Endpoint);
  e->fabric_ = std::move(fabric);
  auto fail = [error](const char* what, int ret) {
    *error = error_text(what, ret);
    return nullptr;
  };
  e->mr_mode_ = info.domain_attr->mr_mode;
  e->send_after_write_ = (info.tx_attr->msg_order & FI_ORDER_SAW) != 0;
  e->inject_size_ = info.tx_attr->inject_size;
  // Ask for the queue sizes the NVMe queue needs, within what the provider offers.
  if (info.tx_attr->size) info.tx_attr->size = std::min(info.tx_attr->size, std::max<std::size_t>(sizes.send_operations, 1));
  if (info.rx_attr->size) info.rx_attr->size = std::min(info.rx_attr->size, std::max<std::size_t>(sizes.receives, 1));
  int ret = fi_domain(e->fabric_->get(), &info, &e->domain_, nullptr);
  if (ret) return fail("fi_domain", ret);
  fi_cq_attr cq_attr{};
  cq_attr.size = sizes.send_operations + sizes.receives;
  cq_attr.format = FI_CQ_FORMAT_MSG;
  cq_attr.wait_obj = FI_WAIT_FD;
  if ((ret = fi_cq_open(e->domain_, &cq_attr, &e->cq_, nullptr))) return fail("fi_cq_open", ret);
  fi_eq_attr eq_attr{};
  eq_attr.size = 16;
  eq_attr.wait_obj = FI_WAIT_FD;
  if ((ret = fi_eq_open(e->fabric_->get(), &eq_attr, &e->eq_, nullptr))) return fail("fi_eq_open", ret);
  return e;
}

bool Endpoint::open_endpoint(fi_info& info, std::string* error) {
  auto fail = [error](const char* what, int ret) {
    *error = error_text(what, ret);
    return false;
  };
  int ret = fi_endpoint(domain_, &info, &ep_, nullptr);
  if (ret) return fail("fi_endpoint", ret);
  if ((ret = fi_ep_bind(ep_, &cq_->fid, FI_TRANSMIT | FI_RECV))) return fail("fi_ep_bind(cq)", ret);
  if ((ret = fi_ep_bind(ep_, &eq_->fid, 0))) return fail("fi_ep_bind(eq)", ret);
  if ((ret = fi_enable(ep_))) return fail("fi_enable", ret);
  std::size_t cm_size = 0, len = sizeof cm_size;
  if (fi_getopt(&ep_->fid, FI_OPT_ENDPOINT, FI_OPT_CM_DATA_SIZE, &cm_size, &len) == 0) cm_data_size_ = cm_size;
  return true;
}

void Endpoint::close_endpoint() {
  close_fid(ep_ ? &ep_->fid : nullptr);
  ep_ = nullptr;
}

Endpoint::~Endpoint() {
  close_endpoint();
  close_fid(cq_ ? &cq_->fid : nullptr);
  close_fid(eq_ ? &eq_->fid : nullptr);
  close_fid(domain_ ? &domain_->fid : nullptr);
}

int read_cm_event(fid_eq* eq, CmEvent* out) {
  alignas(fi_eq_cm_entry) std::uint8_t buffer[sizeof(fi_eq_cm_entry) + sizeof out->data];
  std::uint32_t event = 0;
  const ssize_t n = fi_eq_read(eq, &event, buffer, sizeof buffer, 0);
  if (n == -FI_EAGAIN) return 0;
  *out = CmEvent{};
  if (n == -FI_EAVAIL) {
    fi_eq_err_entry err{};
    // Since API 1.5 the caller may lend the buffer for the error's data (a reject's private data).
    err.err_data = out->data;
    err.err_data_size = sizeof out->data;
    if (fi_eq_readerr(eq, &err, 0) < 0) {
      out->error = FI_EIO;
      return -1;
    }
    out->error = err.err ? err.err : FI_EIO;
    out->data_length = std::min(err.err_data_size, sizeof out->data);
    if (err.err_data != out->data && err.err_data && out->data_length) std::memcpy(out->data, err.err_data, out->data_length);
    return 1;
  }
  if (n < 0) {
    out->error = static_cast<int>(-n);
    return -1;
  }
  out->event = event;
  if (static_cast<std::size_t>(n) >= sizeof(fi_eq_cm_entry)) {
    fi_eq_cm_entry entry;
    std::memcpy(&entry, buffer, sizeof entry);
    out->info = entry.info;
    out->data_length = static_cast<std::size_t>(n) - sizeof(fi_eq_cm_entry);
    std::memcpy(out->data, buffer + sizeof(fi_eq_cm_entry), out->data_length);
  }
  return 1;
}

}  // namespace nvmf::fabric::ofi
