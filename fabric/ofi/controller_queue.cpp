#include "fabric/ofi/controller_queue.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <rdma/fi_cm.h>
#include <rdma/fi_errno.h>
#include <rdma/fi_rma.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "fabric/log.hpp"
#include "fabric/reactor.hpp"

namespace nvmf::fabric::ofi {

using nvme::Status;

namespace {
constexpr std::size_t kDataBuffersPerChunk = 8;

std::string format_peer(const fi_info& info) {
  char text[INET6_ADDRSTRLEN + 16] = "unknown peer";
  if (info.dest_addr && info.addr_format == FI_SOCKADDR_IN) {
    const auto* sa = static_cast<const sockaddr_in*>(info.dest_addr);
    char ip[INET_ADDRSTRLEN] = "?";
    inet_ntop(AF_INET, &sa->sin_addr, ip, sizeof ip);
    std::snprintf(text, sizeof text, "%s:%u", ip, unsigned(ntohs(sa->sin_port)));
  } else if (info.dest_addr && info.addr_format == FI_SOCKADDR_IN6) {
    const auto* sa = static_cast<const sockaddr_in6*>(info.dest_addr);
    char ip[INET6_ADDRSTRLEN] = "?";
    inet_ntop(AF_INET6, &sa->sin6_addr, ip, sizeof ip);
    std::snprintf(text, sizeof text, "[%s]:%u", ip, unsigned(ntohs(sa->sin6_port)));
  }
  return text;
}
}  // namespace

void OfiControllerQueue::accept(Reactor& reactor, std::shared_ptr<Fabric> fabric, fi_info& info,
                                const rdma::CmConnectParams& params, const TransportLimits& limits,
                                QueueHandlerFactory& factory, const std::string& listener,
                                const RejectConnect& reject) {
  auto* q = new OfiControllerQueue(reactor, params, limits, format_peer(info));
  std::string error;
  if (!q->create_resources(std::move(fabric), info, &error)) {
    NVMF_LOG(error, "ofi: %s: %s qid %u: %s; rejecting", listener.c_str(), q->peer_.c_str(), params.qid,
             error.c_str());
    delete q;  // before the reject: the endpoint it may have opened for this request is closed first
    reject(nvme::rdma::CmRejectStatus::no_resources);
    return;
  }
  q->handler_ = factory.make_handler(*q);
  auto accept_record = rdma::make_accept(params.queue_depth);
  const int ret = fi_accept(q->endpoint_->ep(), &accept_record, sizeof accept_record);
  std::string why;
  if (ret == 0) {
    q->cq_driver_ = WaitDriver::start(reactor, q->endpoint_->fabric(), &q->endpoint_->cq()->fid, q,
                                      &OfiControllerQueue::drain_cq, &why, &q->cq_counters_);
    if (q->cq_driver_)
      q->eq_driver_ = WaitDriver::start(reactor, q->endpoint_->fabric(), &q->endpoint_->eq()->fid, q,
                                        &OfiControllerQueue::drain_eq, &why);
  } else {
    why = error_text("fi_accept", ret);
  }
  if (!q->cq_driver_ || !q->eq_driver_) {
    NVMF_LOG(error, "ofi: %s qid %u: %s", q->peer_.c_str(), params.qid, why.c_str());
    q->begin_close("accept failed");
    return;
  }
  const int mr_mode = q->endpoint_->mr_mode();
  NVMF_LOG(debug,
           "ofi: %s qid %u accepted, depth %u; provider: connection data up to %zu bytes, keys chosen by %s, remote "
           "addresses %s, local registration %s, send after write %s",
           q->peer_.c_str(), params.qid, params.queue_depth, q->endpoint_->cm_data_size(),
           (mr_mode & FI_MR_PROV_KEY) ? "the provider" : "us", (mr_mode & FI_MR_VIRT_ADDR) ? "virtual" : "offsets",
           (mr_mode & FI_MR_LOCAL) ? "required" : "not required",
           q->endpoint_->send_after_write_ordered() ? "ordered (FI_ORDER_SAW)" : "waits for delivery completion");
}

OfiControllerQueue::OfiControllerQueue(Reactor& reactor, const rdma::CmConnectParams& params,
                                       const TransportLimits& limits, std::string peer)
    : reactor_(reactor),
      cm_(params),
      limits_(limits),
      max_depth_(limits.max_queue_depth),
      in_capsule_limit_(params.qid == 0 ? limits.admin_in_capsule_data_size : limits.in_capsule_data_size),
      peer_(std::move(peer)),
      recv_layout_(params.queue_depth, in_capsule_limit_) {
  params_.qid = params.qid;
  params_.depth = params.queue_depth;
}

bool OfiControllerQueue::create_resources(std::shared_ptr<Fabric> fabric, fi_info& info, std::string* error) {
  const std::uint32_t depth = cm_.queue_depth;
  EndpointSizes sizes;
  sizes.send_operations = 2u * depth + 1;  // per slot a read, or a write and the response send
  sizes.receives = depth;
  // Everything that may fail comes before the endpoint: until then a failure can still be answered with
  // fi_reject and the reject record (endpoint.hpp).
  if (!(endpoint_ = Endpoint::open_domain(std::move(fabric), info, sizes, error))) return false;
  local_registrar_ = std::make_unique<OfiRegistrar>(endpoint_->domain(), FI_SEND | FI_RECV | FI_READ | FI_WRITE,
                                                    endpoint_->mr_mode(), endpoint_->next_key());
  recv_memory_ = static_cast<std::byte*>(
      std::aligned_alloc(rdma::ReceiveLayout::kDataAlignment, recv_layout_.total_bytes()));
  if (!recv_memory_) {
    *error = "allocating receive buffers";
    return false;
  }
  if (!local_registrar_->register_region(reinterpret_cast<std::uintptr_t>(recv_memory_), recv_layout_.total_bytes(),
                                         &recv_region_, error))
    return false;
  responses_.assign(depth, nvme::Cqe{});
  if (!local_registrar_->register_region(reinterpret_cast<std::uintptr_t>(responses_.data()),
                                         responses_.size() * sizeof(nvme::Cqe), &response_region_, error))
    return false;
  data_pool_ = std::make_unique<rdma::RegisteredPool>(*local_registrar_, limits_.max_io_size, kDataBuffersPerChunk,
                                                      depth);
  slots_.init(static_cast<std::uint16_t>(depth), this);
  for (std::uint32_t i = 0; i < depth; ++i) {
    Slot& s = slots_[i];
    s.read_op.kind = OpKind::read;
    s.write_op.kind = OpKind::write;
    s.send_op.kind = OpKind::send;
    s.read_op.index = s.write_op.index = s.send_op.index = i;
  }
  reads_.reset(static_cast<std::uint16_t>(depth), kMaxReadsPerQueue);
  recv_ops_.resize(depth);
  if (!endpoint_->open_endpoint(info, error)) return false;
  for (std::uint32_t i = 0; i < depth; ++i) {
    recv_ops_[i].kind = OpKind::recv;
    recv_ops_[i].index = i;
    if (!post_recv(i)) {
      *error = "fi_recv failed";
      return false;
    }
  }
  return true;
}

OfiControllerQueue::~OfiControllerQueue() {
  cq_driver_.reset();
  eq_driver_.reset();
  handler_.reset();
  if (endpoint_) endpoint_->close_endpoint();  // before any buffer it may still write goes
  data_pool_.reset();
  if (local_registrar_) {
    if (response_region_.handle) local_registrar_->deregister_region(response_region_);
    if (recv_region_.handle) local_registrar_->deregister_region(recv_region_);
  }
  std::free(recv_memory_);
}

bool OfiControllerQueue::post_recv(std::uint32_t index) {
  // Two pieces: the SQE, then the in-capsule data on a 4 KiB boundary of its own (receive_layout.hpp), so a block
  // write carried in the capsule can go to an O_DIRECT file without a bounce.
  rdma::ReceiveLayout::Piece pieces[rdma::ReceiveLayout::kMaxSges];
  const std::uint32_t count = recv_layout_.pieces(index, pieces);
  iovec iov[rdma::ReceiveLayout::kMaxSges];
  void* desc[rdma::ReceiveLayout::kMaxSges];
  for (std::uint32_t i = 0; i < count; ++i) {
    iov[i] = iovec{recv_memory_ + pieces[i].offset, pieces[i].length};
    desc[i] = OfiRegistrar::descriptor(recv_region_.handle);
  }
  return fi_recvv(endpoint_->ep(), iov, desc, count, 0, &recv_ops_[index].provider) == 0;
}

// ------------------------------------------------------------------------------------------ events

void OfiControllerQueue::drain_eq(void* self_ptr) {
  auto* self = static_cast<OfiControllerQueue*>(self_ptr);
  CmEvent event;
  for (;;) {
    const int r = read_cm_event(self->endpoint_->eq(), &event);
    if (r == 0) return;
    if (r < 0 || event.error) {
      self->begin_close("connection error event");
      return;
    }
    if (event.info) fi_freeinfo(event.info);
    if (event.event == FI_CONNECTED) NVMF_LOG(debug, "ofi: %s qid %u connected", self->peer_.c_str(), self->cm_.qid);
    if (event.event == FI_SHUTDOWN) self->begin_close("host disconnected");
  }
}

void OfiControllerQueue::drain_cq(void* self_ptr) {
  auto* self = static_cast<OfiControllerQueue*>(self_ptr);
  if (self->endpoint_closed_) return;
  fi_cq_msg_entry entries[kCqBatch];
  CqCounters& counters = self->cq_counters_;
  for (;;) {
    const ssize_t n = fi_cq_read(self->endpoint_->cq(), entries, kCqBatch);
    ++counters.reads;
    if (n > 0) {
      counters.completions += static_cast<std::uint64_t>(n);
      for (ssize_t i = 0; i < n; ++i) self->on_completion(*op_of(entries[i].op_context), entries[i].len, true);
      // A short batch: the provider's progress ran in this read and found nothing more. Another read would only
      // cost another progress pass (an epoll_wait with tcp) to learn -FI_EAGAIN; fi_trywait and the wait fd
      // (which includes the provider's sockets) catch whatever arrives next.
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
      if (err.err != FI_ECANCELED)
        NVMF_LOG(warn, "ofi: %s qid %u: completion error: %s", self->peer_.c_str(), self->cm_.qid,
                 fi_strerror(err.err));
      self->begin_close("completion error");
      if (err.op_context) self->on_completion(*op_of(err.op_context), 0, false);
      continue;
    }
    self->begin_close("fi_cq_read failed");
    return;
  }
}

void OfiControllerQueue::on_completion(OpContext& op, std::size_t length, bool ok) {
  switch (op.kind) {
    case OpKind::recv:
      if (ok && !closed_) on_capsule(op.index, static_cast<std::uint32_t>(length));
      break;
    case OpKind::read:
      if (slots_[op.index].phase == Phase::reading) on_read_done(slots_[op.index], ok && !closed_);
      break;
    case OpKind::write: {
      Slot& slot = slots_[op.index];
      if (slot.pending_ops) --slot.pending_ops;
      if (slot.send_waits_for_write) {
        slot.send_waits_for_write = false;
        if (!ok || closed_ || !post_response_send(slot)) on_send_side_done(slot);
      } else {
        on_send_side_done(slot);
      }
      break;
    }
    case OpKind::send: {
      Slot& slot = slots_[op.index];
      if (slot.pending_ops) --slot.pending_ops;
      on_send_side_done(slot);
      break;
    }
  }
}

void OfiControllerQueue::on_send_side_done(Slot& slot) {
  if (slot.pending_ops || slot.send_waits_for_write || slot.phase != Phase::responding) return;
  recycle(slot);
  std::uint32_t recv_index = 0, bytes = 0;
  if (!closed_ && slots_.next_waiting(&recv_index, &bytes)) on_capsule(recv_index, bytes);
  maybe_delete();
}

}  // namespace nvmf::fabric::ofi
