// The receive half of the NVMe/RDMA host data path: completions drained from the CQ (SEND done, response
// received, window invalidated), response capsules matched to their slot by CID, and a request finished once
// the adapter is done with its buffers: read data scattered from a bounce buffer, registrations released.
#include <cerrno>
#include <cstring>

#include "fabric/host_status.hpp"
#include "fabric/rdma/completion_drain.hpp"
#include "fabric/rdma/host_slot.hpp"

namespace nvmf::fabric {

using nvme::Status;
using rdma::WrKind;

void RdmaHostQueue::on_cq_ready(void* self_ptr) {
  auto* self = static_cast<RdmaHostQueue*>(self_ptr);
  self->in_poll_ = true;
  bool ok = rdma::drain_completions(self->comp_channel_, self->cq_, self->unacked_events_,
                                    [self](const ibv_wc& wc) { self->handle_completion(wc); });
  self->in_poll_ = false;
  if (!ok && self->alive_) self->fail("ibv_req_notify_cq failed", host_path_error());
}

void RdmaHostQueue::handle_completion(const ibv_wc& wc) {
  if (!alive_) return;  // flushes after a failure: their requests are already completed
  const auto kind = rdma::wr_kind(wc.wr_id);
  const auto index = rdma::wr_index(wc.wr_id);
  if (wc.status != IBV_WC_SUCCESS) {
    fail(std::string("work completion error: ") + ibv_wc_status_str(wc.status), host_path_error());
    return;
  }
  switch (kind) {
    case WrKind::recv: on_response(index, wc); break;
    case WrKind::send:
      slots_[index].send_done = true;
      try_finish(slots_[index]);
      break;
    case WrKind::local_invalidate:
      slots_[index].invalidating = false;
      slots_[index].window_bound = false;
      try_finish(slots_[index]);
      break;
    default: break;
  }
}

void RdmaHostQueue::on_response(std::uint32_t recv_index, const ibv_wc& wc) {
  if (wc.byte_len < rdma::kResponseCapsuleSize) {
    fail("response capsule of " + std::to_string(wc.byte_len) + " bytes", host_path_error());
    return;
  }
  const nvme::Cqe cqe = responses_[recv_index];
  if (!post_recv(recv_index)) {
    fail(std::string("ibv_post_recv: ") + std::strerror(errno), host_path_error());
    return;
  }
  Slot* found = capsule_queue::slot_for_response(slots_, cqe);
  if (!found) {
    fail("response for command identifier " + std::to_string(cqe.cid) + " that is not outstanding", host_path_error());
    return;
  }
  Slot& slot = *found;
  slot.response = cqe;
  slot.response_done = true;
  if (slot.window_bound) {
    if (wc.wc_flags & IBV_WC_WITH_INV) {
      if (wc.invalidated_rkey != slot.window_rkey) {
        fail("controller invalidated rkey " + std::to_string(wc.invalidated_rkey) + ", expected " +
                 std::to_string(slot.window_rkey),
             host_path_error());
        return;
      }
      slot.window_bound = false;
    } else {
      // The controller did not invalidate (allowed when it chose not to): revoke the window ourselves before the
      // buffer goes back to the application.
      ibv_send_wr inv{};
      inv.wr_id = rdma::make_wr_id(WrKind::local_invalidate, cqe.cid);
      inv.opcode = IBV_WR_LOCAL_INV;
      inv.invalidate_rkey = slot.window_rkey;
      inv.send_flags = IBV_SEND_SIGNALED;
      ibv_send_wr* bad = nullptr;
      if (ibv_post_send(id_->qp, &inv, &bad) != 0) {
        fail(std::string("posting local invalidate: ") + std::strerror(errno), host_path_error());
        return;
      }
      slot.invalidating = true;
    }
  }
  try_finish(slot);
}

void RdmaHostQueue::try_finish(Slot& slot) {
  if (slot.busy && slot.send_done && slot.response_done && !slot.invalidating) finish(slot, Status::success());
}

void RdmaHostQueue::finish(Slot& slot, Status transport_status) {
  HostRequest& req = *slot.req;
  const auto index = static_cast<std::uint16_t>(&slot - slots_.data());
  capsule_queue::fill_completion(slot, index, transport_status);
  capsule_queue::release_keyed_data(slot, *cache_, *bounce_pool_);
  const std::uint32_t window_rkey = slot.window_rkey;
  slot = Slot{};
  slot.window_rkey = window_rkey;
  free_slots_.push_back(index);
  --outstanding_;
  req.on_complete(req);
}

}  // namespace nvmf::fabric
