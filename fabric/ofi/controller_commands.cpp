// The data path of the ofi controller queue (controller_queue.hpp): a received capsule becomes a request, host
// data is pulled with fi_read, read data pushed with fi_write before the response's fi_send, and the queue's end.
#include <rdma/fi_errno.h>
#include <rdma/fi_rma.h>

#include <algorithm>
#include <cstring>

#include "fabric/log.hpp"
#include "fabric/ofi/controller_queue.hpp"
#include "fabric/reactor.hpp"

namespace nvmf::fabric::ofi {

using nvme::Status;
using rdma::DataLocation;

void OfiControllerQueue::on_capsule(std::uint32_t recv_index, std::uint32_t bytes) {
  if (bytes < rdma::kCommandCapsuleHeader) {
    NVMF_LOG(warn, "ofi: %s qid %u: %u-byte capsule is shorter than an SQE", peer_.c_str(), cm_.qid, bytes);
    begin_close("short capsule");
    return;
  }
  Slot* slot = slots_.admit(recv_index, bytes);
  if (!slot) return;  // waits for a slot (command_slots.hpp)
  slot->pending_ops = 0;
  slot->send_waits_for_write = false;
  slots_.advance_sq_head(params_.depth);
  switch (capsule_queue::start_command(*slot, recv_memory_ + recv_layout_.sqe_offset(recv_index),
                                       recv_memory_ + recv_layout_.data_offset(recv_index), recv_index, bytes,
                                       in_capsule_limit_, limits_.max_io_size, *data_pool_,
                                       {"ofi", peer_, cm_.qid})) {
    case capsule_queue::CommandStart::respond: send_response(*slot); return;
    case capsule_queue::CommandStart::release_then_deliver: release_recv(*slot); break;
    case capsule_queue::CommandStart::deliver: break;
  }
  handler_->on_command(slot->req);
}

void OfiControllerQueue::fetch_data(ControllerRequest& req) {
  Slot& slot = slots_[req.slot];
  if (!capsule_queue::needs_read(slot) || closed_) {
    if (!req.data_ready && closed_) req.set_status(Status::generic(NVME_SC_DATA_XFER_ERROR));
    reactor_.defer([this, &req] { handler_->on_data_fetched(req); });
    return;
  }
  slot.phase = Phase::reading;
  if (reads_.acquire(req.slot)) post_read(slot);
}

void OfiControllerQueue::post_read(Slot& slot) {
  const ssize_t ret = fi_read(endpoint_->ep(), slot.buffer.data, slot.data.length,
                              OfiRegistrar::descriptor(slot.buffer.handle), 0, slot.data.remote_address,
                              slot.data.remote_key, &slot.read_op.provider);
  if (ret != 0) {
    NVMF_LOG(error, "ofi: %s qid %u: %s", peer_.c_str(), cm_.qid, error_text("fi_read", static_cast<int>(ret)).c_str());
    on_read_done(slot, false);
    begin_close("fi_read failed");
  }
}

void OfiControllerQueue::on_read_done(Slot& slot, bool ok) {
  reads_.release();
  capsule_queue::read_done(slot, ok);
  ControllerRequest* req = &slot.req;
  reactor_.defer([this, req] { handler_->on_data_fetched(*req); });
  std::uint16_t next = 0;
  while (!closed_ && reads_.next_waiting(&next)) post_read(slots_[next]);
}

void OfiControllerQueue::complete(ControllerRequest& req) {
  Slot& slot = slots_[req.slot];
  slot.handler_owns = false;
  if (closed_) {
    recycle(slot);
    maybe_delete();
    return;
  }
  send_response(slot);
}

void OfiControllerQueue::send_response(Slot& slot) {
  ControllerRequest& req = slot.req;
  release_recv(slot);
  slot.phase = Phase::responding;
  slots_.fill_response(slot, cm_.qid, params_.sq_flow_control_disabled, &responses_[req.slot]);
  if (closed_) {
    on_send_side_done(slot);
    return;
  }
  const std::uint32_t length = capsule_queue::keyed_write_length(slot);
  if (length > 0) {
    iovec iov{slot.buffer.data, length};
    void* desc = OfiRegistrar::descriptor(slot.buffer.handle);
    fi_rma_iov remote{slot.data.remote_address, length, slot.data.remote_key};
    fi_msg_rma msg{};
    msg.msg_iov = &iov;
    msg.desc = &desc;
    msg.iov_count = 1;
    msg.rma_iov = &remote;
    msg.rma_iov_count = 1;
    msg.context = &slot.write_op.provider;
    // The response must not overtake its data. Where the provider keeps sends behind writes (FI_ORDER_SAW) both
    // go at once; otherwise the send waits for the write to be delivered into the host's memory.
    const bool ordered = endpoint_->send_after_write_ordered();
    ssize_t ret = fi_writemsg(endpoint_->ep(), &msg, FI_COMPLETION | (ordered ? 0 : FI_DELIVERY_COMPLETE));
    if (ret == -FI_EBADFLAGS && !ordered) ret = fi_writemsg(endpoint_->ep(), &msg, FI_COMPLETION);
    if (ret != 0) {
      NVMF_LOG(error, "ofi: %s qid %u: %s", peer_.c_str(), cm_.qid, error_text("fi_write", static_cast<int>(ret)).c_str());
      begin_close("fi_write failed");
      on_send_side_done(slot);
      return;
    }
    ++slot.pending_ops;
    if (!ordered) {
      slot.send_waits_for_write = true;
      return;
    }
  }
  if (!post_response_send(slot)) on_send_side_done(slot);
}

bool OfiControllerQueue::post_response_send(Slot& slot) {
  nvme::Cqe* response = &responses_[slot.req.slot];
  // A 16-byte response fits the provider's inject size (tcp: copied into its own header buffer): no send
  // completion to read back, one CQ entry less per command. The slot is done once its data write (if any) is.
  if (endpoint_->can_inject(rdma::kResponseCapsuleSize)) {
    const ssize_t ret = fi_inject(endpoint_->ep(), response, rdma::kResponseCapsuleSize, 0);
    if (ret == 0) {
      if (!slot.pending_ops) recycle_after_inject(slot);
      return true;
    }
    if (ret != -FI_EAGAIN) {
      NVMF_LOG(error, "ofi: %s qid %u: %s", peer_.c_str(), cm_.qid, error_text("fi_inject", static_cast<int>(ret)).c_str());
      begin_close("fi_inject failed");
      return false;
    }
    // The provider's transmit queue is full: an ordinary send, which waits in our send queue slot.
  }
  const ssize_t ret = fi_send(endpoint_->ep(), response, rdma::kResponseCapsuleSize,
                              OfiRegistrar::descriptor(response_region_.handle), 0, &slot.send_op.provider);
  if (ret != 0) {
    NVMF_LOG(error, "ofi: %s qid %u: %s", peer_.c_str(), cm_.qid, error_text("fi_send", static_cast<int>(ret)).c_str());
    begin_close("fi_send failed");
    return false;
  }
  ++slot.pending_ops;
  return true;
}

void OfiControllerQueue::recycle_after_inject(Slot& slot) {
  recycle(slot);
  // A capsule that found no free slot starts on the next turn, not inside the handler's complete() call.
  if (slots_.has_waiting())
    reactor_.defer([this] {
      std::uint32_t recv_index = 0, bytes = 0;
      while (!closed_ && slots_.next_waiting(&recv_index, &bytes)) on_capsule(recv_index, bytes);
    });
}

void OfiControllerQueue::release_recv(Slot& slot) {
  if (!slot.holds_recv) return;
  slot.holds_recv = false;
  if (!closed_ && !post_recv(slot.recv_index)) begin_close("fi_recv failed");
}

void OfiControllerQueue::recycle(Slot& slot) {
  if (!slots_.recycle(slot, *data_pool_)) return;
  slot.pending_ops = 0;
  slot.send_waits_for_write = false;
}

void OfiControllerQueue::set_params(const QueueParams& params) {
  if (params.depth > cm_.queue_depth)
    NVMF_LOG(warn, "ofi: %s qid %u: Connect SQSIZE + 1 = %u exceeds the connect request's HSQSIZE + 1 = %u",
             peer_.c_str(), cm_.qid, params.depth, cm_.queue_depth);
  params_ = params;
}

// ------------------------------------------------------------------------------------------ teardown

void OfiControllerQueue::close() { begin_close("closed by the controller"); }

void OfiControllerQueue::begin_close(const char* why) {
  if (closed_) return;
  closed_ = true;
  NVMF_LOG(debug, "ofi: %s qid %u closing: %s", peer_.c_str(), cm_.qid, why);
  if (endpoint_ && endpoint_->ep()) fi_shutdown(endpoint_->ep(), 0);
  // Deferred: begin_close runs inside handler calls and completion loops.
  reactor_.defer([this] { finish_close(); });
}

void OfiControllerQueue::finish_close() {
  char counters[160];
  cq_counters_.format(counters, sizeof counters);
  NVMF_LOG(debug, "ofi: %s qid %u: %s", peer_.c_str(), cm_.qid, counters);
  // No completion and no transfer after this: what was in flight is over.
  if (endpoint_) endpoint_->close_endpoint();
  endpoint_closed_ = true;
  cq_driver_.reset();
  eq_driver_.reset();
  std::uint16_t waiting = 0;
  while (reads_.drop_waiting(&waiting)) {
    Slot& slot = slots_[waiting];
    capsule_queue::fail_data_transfer(slot);
    reactor_.defer([this, &slot] { handler_->on_data_fetched(slot.req); });
  }
  for (auto& slot : slots_.all()) {
    if (slot.phase == Phase::reading) on_read_done(slot, false);
    if (slot.phase == Phase::responding) {
      slot.pending_ops = 0;
      slot.send_waits_for_write = false;
      recycle(slot);
    }
  }
  handler_->on_queue_closed();
  closed_done_ = true;
  maybe_delete();
}

void OfiControllerQueue::maybe_delete() {
  if (!closed_done_ || slots_.active() != 0 || delete_scheduled_) return;
  delete_scheduled_ = true;
  reactor_.defer([this] { delete this; });
}

}  // namespace nvmf::fabric::ofi
