// The data path of the ofi host queue (host_queue.hpp): a request becomes a command capsule in its slot's send
// buffer, its data in-capsule (small writes) or named by a Keyed SGL over the registered application buffer or a
// bounce buffer; completions drained from the CQ match responses to slots by CID.
#include <rdma/fi_errno.h>

#include <cstring>

#include "fabric/capsule_queue/host_slots.hpp"
#include "fabric/host_status.hpp"
#include "fabric/log.hpp"
#include "fabric/ofi/host_queue.hpp"
#include "fabric/rdma/capsule.hpp"
#include "fabric/reactor.hpp"

namespace nvmf::fabric::ofi {

using nvme::Status;

namespace {
constexpr std::uint32_t kHostCapsuleSize = rdma::kCommandCapsuleHeader + rdma::kHostMaxInCapsule;
}  // namespace

bool OfiHostQueue::submit(HostRequest& req) {
  if (!alive_ || free_slots_.empty() || outstanding_ >= depth_) return false;
  const std::uint32_t length = req.direction == DataDirection::none ? 0 : capsule_queue::request_length(req);
  const std::uint16_t index = free_slots_.back();
  Slot& slot = slots_[index];
  std::byte* capsule = capsules_.data() + std::size_t(index) * kHostCapsuleSize;
  nvme::Sqe sqe = req.sqe;
  sqe.cid = index;
  std::uint32_t send_length = rdma::kCommandCapsuleHeader;
  slot.registration = nullptr;
  slot.bounce = {};
  if (length == 0) {
    rdma::set_null_sgl(sqe);
  } else if (req.direction == DataDirection::host_to_controller && length <= in_capsule_limit_) {
    capsule_queue::gather(req, capsule + rdma::kCommandCapsuleHeader);
    rdma::set_in_capsule_sgl(sqe, length);
    send_length += length;
  } else {
    capsule_queue::KeyedRegion region;
    const std::string why = capsule_queue::map_keyed_data(slot, req, length, *cache_, *bounce_pool_, &region);
    if (!why.empty()) {
      capsule_queue::refuse_unmappable(req, index, reactor_, "ofi", qid_, why);
      return true;
    }
    rdma::set_keyed_sgl(sqe,
                        OfiRegistrar::remote_address(endpoint_->mr_mode(), region.region_start,
                                                     reinterpret_cast<const void*>(region.address)),
                        length, region.rkey, false);
  }
  std::memcpy(capsule, &sqe, sizeof sqe);
  slot.req = &req;
  slot.busy = true;
  slot.send_done = false;
  slot.response_done = false;
  free_slots_.pop_back();
  ++outstanding_;
  // A capsule without in-capsule data (64 bytes) fits the provider's inject size: copied at once, no send
  // completion to wait for, one CQ entry less per command (the response is what completes the request).
  if (endpoint_->can_inject(send_length)) {
    const ssize_t ret = fi_inject(endpoint_->ep(), capsule, send_length, 0);
    if (ret == 0) {
      slot.send_done = true;
      return true;
    }
    if (ret != -FI_EAGAIN) {
      fail(error_text("fi_inject", static_cast<int>(ret)), host_path_error());
      return true;
    }
  }
  const ssize_t ret = fi_send(endpoint_->ep(), capsule, send_length, OfiRegistrar::descriptor(capsule_region_.handle),
                              0, &slot.send_op.provider);
  if (ret != 0) fail(error_text("fi_send", static_cast<int>(ret)), host_path_error());
  return true;
}

void OfiHostQueue::drain_cq(void* self_ptr) {
  auto* self = static_cast<OfiHostQueue*>(self_ptr);
  fi_cq_msg_entry entries[kCqBatch];
  CqCounters& counters = self->cq_counters_;
  for (;;) {
    const ssize_t n = fi_cq_read(self->endpoint_->cq(), entries, kCqBatch);
    ++counters.reads;
    if (n > 0) {
      counters.completions += static_cast<std::uint64_t>(n);
      for (ssize_t i = 0; i < n && self->alive_; ++i) {
        const OpContext& op = *op_of(entries[i].op_context);
        if (op.kind == OpKind::recv) {
          self->on_response(op.index, entries[i].len);
        } else if (op.kind == OpKind::send) {
          self->slots_[op.index].send_done = true;
          self->try_finish(self->slots_[op.index]);
        }
      }
      // A short batch: nothing more now (controller_queue.cpp's drain_cq says why it stops here).
      if (static_cast<std::size_t>(n) < kCqBatch) return;
      continue;
    }
    if (n == -FI_EAGAIN) {
      ++counters.empty_reads;
      return;
    }
    if (n == -FI_EAVAIL) {
      fi_cq_err_entry err{};
      if (fi_cq_readerr(self->endpoint_->cq(), &err, 0) <= 0) return;
      self->fail(std::string("completion error: ") + fi_strerror(err.err), host_path_error());
      continue;
    }
    self->fail(error_text("fi_cq_read", static_cast<int>(n)), host_path_error());
    return;
  }
}

void OfiHostQueue::on_response(std::uint32_t recv_index, std::size_t length) {
  if (length < rdma::kResponseCapsuleSize) {
    fail("response capsule of " + std::to_string(length) + " bytes", host_path_error());
    return;
  }
  const nvme::Cqe cqe = responses_[recv_index];
  if (!post_recv(recv_index)) {
    fail("fi_recv failed", host_path_error());
    return;
  }
  Slot* slot = capsule_queue::slot_for_response(slots_, cqe);
  if (!slot) {
    fail("response for command identifier " + std::to_string(cqe.cid) + " that is not outstanding", host_path_error());
    return;
  }
  slot->response = cqe;
  slot->response_done = true;
  try_finish(*slot);
}

void OfiHostQueue::try_finish(Slot& slot) {
  if (slot.busy && slot.send_done && slot.response_done) finish(slot, Status::success());
}

void OfiHostQueue::finish(Slot& slot, Status transport_status) {
  HostRequest& req = *slot.req;
  const auto index = static_cast<std::uint16_t>(&slot - slots_.data());
  capsule_queue::fill_completion(slot, index, transport_status);
  capsule_queue::release_keyed_data(slot, *cache_, *bounce_pool_);
  slot.busy = false;
  slot.req = nullptr;
  free_slots_.push_back(index);
  --outstanding_;
  req.on_complete(req);
}

}  // namespace nvmf::fabric::ofi
