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
  recv_bytes_[recv_index] = bytes;
  if (free_slots_.empty()) {
    waiting_capsules_.push(recv_index);
    return;
  }
  Slot& slot = slots_[free_slots_.back()];
  free_slots_.pop_back();
  ++active_requests_;
  start_command(slot, recv_index, bytes);
}

void OfiControllerQueue::start_command(Slot& slot, std::uint32_t recv_index, std::uint32_t bytes) {
  ControllerRequest& req = slot.req;
  std::memcpy(&req.sqe, recv_memory_ + recv_layout_.sqe_offset(recv_index), sizeof req.sqe);
  req.cqe = nvme::Cqe{};
  req.data = nullptr;
  req.data_ready = false;
  req.data_length = 0;
  req.direction = DataDirection::none;
  slot.recv_index = recv_index;
  slot.holds_recv = true;
  slot.phase = Phase::handler;
  slot.pending_ops = 0;
  slot.send_waits_for_write = false;
  sq_head_ = static_cast<std::uint16_t>((sq_head_ + 1) % std::max<std::uint16_t>(params_.depth, 1));

  slot.data = rdma::parse_command_capsule(req.sqe, bytes, in_capsule_limit_, limits_.max_io_size);
  if (!slot.data.status.ok()) {
    req.set_status(slot.data.status);
    send_response(slot);
    return;
  }
  req.direction = slot.data.direction;
  req.data_length = slot.data.length;
  if (slot.data.location == DataLocation::in_capsule) {
    // The receive's data piece: 4 KiB-aligned, so an aligned write can go O_DIRECT (receive_layout.hpp).
    req.data = recv_memory_ + recv_layout_.data_offset(recv_index) + slot.data.in_capsule_offset;
    req.data_ready = true;
  } else {
    release_recv(slot);
    if (slot.data.location == DataLocation::keyed) {
      slot.buffer = data_pool_->get();
      if (!slot.buffer) {
        NVMF_LOG(error, "ofi: %s qid %u: no data buffer: %s", peer_.c_str(), cm_.qid, data_pool_->last_error().c_str());
        req.set_status(Status::make(NVME_SCT_GENERIC, NVME_SC_INTERNAL));
        send_response(slot);
        return;
      }
      req.data = slot.buffer.data;
    }
  }
  slot.handler_owns = true;
  handler_->on_command(req);
}

void OfiControllerQueue::fetch_data(ControllerRequest& req) {
  Slot& slot = slots_[req.slot];
  if (req.data_ready || slot.data.location != DataLocation::keyed ||
      slot.data.direction != DataDirection::host_to_controller || closed_) {
    if (!req.data_ready && closed_) req.set_status(Status::generic(NVME_SC_DATA_XFER_ERROR));
    reactor_.defer([this, &req] { handler_->on_data_fetched(req); });
    return;
  }
  slot.phase = Phase::reading;
  if (reads_outstanding_ >= kMaxReadsPerQueue) {
    waiting_reads_.push(req.slot);
    return;
  }
  post_read(slot);
}

void OfiControllerQueue::post_read(Slot& slot) {
  ++reads_outstanding_;
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
  --reads_outstanding_;
  slot.phase = Phase::handler;
  if (ok)
    slot.req.data_ready = true;
  else
    slot.req.set_status(Status::generic(NVME_SC_DATA_XFER_ERROR));
  ControllerRequest* req = &slot.req;
  reactor_.defer([this, req] { handler_->on_data_fetched(*req); });
  while (!closed_ && !waiting_reads_.empty() && reads_outstanding_ < kMaxReadsPerQueue)
    post_read(slots_[waiting_reads_.pop()]);
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
  nvme::Cqe& cqe = responses_[req.slot];
  cqe = req.cqe;
  cqe.cid = req.sqe.cid;
  cqe.sqid = cm_.qid;
  cqe.sqhd = params_.sq_flow_control_disabled ? 0xFFFF : sq_head_;
  if (closed_) {
    on_send_side_done(slot);
    return;
  }
  const std::uint32_t length = std::min(req.data_length, slot.data.length);
  if (req.status().ok() && slot.data.location == DataLocation::keyed &&
      slot.data.direction == DataDirection::controller_to_host && length > 0) {
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
  if (!waiting_capsules_.empty())
    reactor_.defer([this] {
      while (!closed_ && !waiting_capsules_.empty() && !free_slots_.empty()) {
        const auto recv_index = waiting_capsules_.pop();
        on_capsule(recv_index, recv_bytes_[recv_index]);
      }
    });
}

void OfiControllerQueue::release_recv(Slot& slot) {
  if (!slot.holds_recv) return;
  slot.holds_recv = false;
  if (!closed_ && !post_recv(slot.recv_index)) begin_close("fi_recv failed");
}

void OfiControllerQueue::recycle(Slot& slot) {
  if (slot.phase == Phase::free || slot.handler_owns) return;
  slot.holds_recv = false;
  data_pool_->put(slot.buffer);
  slot.buffer = {};
  slot.phase = Phase::free;
  slot.pending_ops = 0;
  slot.send_waits_for_write = false;
  free_slots_.push_back(slot.req.slot);
  --active_requests_;
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
  while (!waiting_reads_.empty()) {
    Slot& slot = slots_[waiting_reads_.pop()];
    ++reads_outstanding_;  // on_read_done counts it back
    on_read_done(slot, false);
  }
  for (auto& slot : slots_) {
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
  if (!closed_done_ || active_requests_ != 0 || delete_scheduled_) return;
  delete_scheduled_ = true;
  reactor_.defer([this] { delete this; });
}

}  // namespace nvmf::fabric::ofi
