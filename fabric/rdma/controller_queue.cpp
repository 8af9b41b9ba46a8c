#include "fabric/rdma/controller_queue.hpp"

#include <fcntl.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "fabric/log.hpp"
#include "fabric/rdma/cm_address.hpp"
#include "fabric/rdma/completion_drain.hpp"
#include "fabric/rdma/fd_watch.hpp"
#include "fabric/reactor.hpp"

namespace nvmf::fabric::rdma {

using nvme::Status;

namespace {
constexpr std::size_t kDataBuffersPerChunk = 8;
constexpr std::chrono::milliseconds kDrainTimeout{2000};

void set_nonblocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }
}  // namespace

RdmaControllerQueue* RdmaControllerQueue::accept(Reactor& reactor, rdma_cm_id* id, rdma_event_channel* channel,
                                                 const CmConnectParams& params, const TransportLimits& limits,
                                                 QueueHandlerFactory& factory) {
  auto* q = new RdmaControllerQueue(reactor, id, channel, params, limits);
  std::string error;
  if (!q->create_resources(&error)) {
    NVMF_LOG(error, "rdma: %s qid %u: %s; rejecting", q->peer_.c_str(), params.qid, error.c_str());
    auto reject = make_reject(nvme::rdma::CmRejectStatus::no_resources);
    rdma_reject(id, &reject, sizeof reject);
    delete q;
    return nullptr;
  }
  q->handler_ = factory.make_handler(*q);

  rdma_conn_param conn{};
  auto accept = make_accept(params.queue_depth);
  conn.private_data = &accept;
  conn.private_data_len = sizeof accept;
  conn.responder_resources = 0;  // the host never reads from us
  conn.initiator_depth = params.read_depth;
  conn.rnr_retry_count = 7;
  conn.flow_control = 1;
  if (rdma_accept(id, &conn) != 0) {
    NVMF_LOG(error, "rdma: %s qid %u: rdma_accept: %s", q->peer_.c_str(), params.qid, std::strerror(errno));
    q->begin_close("accept failed");
    return nullptr;
  }
  NVMF_LOG(debug, "rdma: %s qid %u accepted, depth %u, read depth %u", q->peer_.c_str(), params.qid,
           params.queue_depth, params.read_depth);
  return q;
}

RdmaControllerQueue::RdmaControllerQueue(Reactor& reactor, rdma_cm_id* id, rdma_event_channel* channel,
                                         const CmConnectParams& params, const TransportLimits& limits)
    : reactor_(reactor),
      id_(id),
      channel_(channel),
      cm_(params),
      limits_(limits),
      max_depth_(limits.max_queue_depth),
      in_capsule_limit_(params.qid == 0 ? limits.admin_in_capsule_data_size : limits.in_capsule_data_size),
      recv_layout_(params.queue_depth, in_capsule_limit_),
      peer_(format_sockaddr(rdma_get_peer_addr(id))) {
  params_.qid = params.qid;
  params_.depth = params.queue_depth;
}

bool RdmaControllerQueue::create_resources(std::string* error) {
  const std::uint32_t depth = cm_.queue_depth;
  ibv_context* verbs = id_->verbs;
  auto fail = [error](const char* what) {
    *error = std::string(what) + ": " + std::strerror(errno);
    return false;
  };
  if (!(pd_ = ibv_alloc_pd(verbs))) return fail("ibv_alloc_pd");
  if (!(comp_channel_ = ibv_create_comp_channel(verbs))) return fail("ibv_create_comp_channel");
  set_nonblocking(comp_channel_->fd);
  set_nonblocking(channel_->fd);
  // Send queue per slot: an RDMA READ, or an RDMA WRITE and the response SEND; plus one drain WR each way.
  const std::uint32_t send_wrs = 2 * depth + 1;
  const std::uint32_t recv_wrs = depth + 1;
  if (!(cq_ = ibv_create_cq(verbs, static_cast<int>(send_wrs + recv_wrs), this, comp_channel_, 0)))
    return fail("ibv_create_cq");
  ibv_qp_init_attr qp{};
  qp.send_cq = cq_;
  qp.recv_cq = cq_;
  qp.qp_type = IBV_QPT_RC;
  qp.cap.max_send_wr = send_wrs;
  qp.cap.max_recv_wr = recv_wrs;
  qp.cap.max_send_sge = 1;
  qp.cap.max_recv_sge = ReceiveLayout::kMaxSges;
  if (rdma_create_qp(id_, pd_, &qp) != 0) return fail("rdma_create_qp");

  registrar_ = std::make_unique<VerbsRegistrar>(pd_, IBV_ACCESS_LOCAL_WRITE);
  recv_memory_ = static_cast<std::byte*>(std::aligned_alloc(ReceiveLayout::kDataAlignment, recv_layout_.total_bytes()));
  if (!recv_memory_) return fail("allocating receive buffers");
  if (!registrar_->register_region(reinterpret_cast<std::uintptr_t>(recv_memory_), recv_layout_.total_bytes(),
                                   &recv_region_, error))
    return false;
  responses_.assign(depth, nvme::Cqe{});
  if (!registrar_->register_region(reinterpret_cast<std::uintptr_t>(responses_.data()),
                                   responses_.size() * sizeof(nvme::Cqe), &response_region_, error))
    return false;
  data_pool_ = std::make_unique<RegisteredPool>(*registrar_, limits_.max_io_size, kDataBuffersPerChunk, depth);

  slots_.init(static_cast<std::uint16_t>(depth), this);
  reads_.reset(static_cast<std::uint16_t>(depth), cm_.read_depth);
  for (std::uint32_t i = 0; i < depth; ++i)
    if (!post_recv(i)) return fail("ibv_post_recv");
  if (ibv_req_notify_cq(cq_, 0) != 0) return fail("ibv_req_notify_cq");
  cq_watch_ = FdWatch::start(reactor_, comp_channel_->fd, this, &RdmaControllerQueue::on_cq_ready);
  cm_watch_ = FdWatch::start(reactor_, channel_->fd, this, &RdmaControllerQueue::on_cm_ready);
  return true;
}

RdmaControllerQueue::~RdmaControllerQueue() {
  if (drain_timer_) reactor_.cancel_timer(drain_timer_);
  if (cq_watch_) cq_watch_->detach();
  if (cm_watch_) cm_watch_->detach();
  handler_.reset();
  if (id_ && id_->qp) rdma_destroy_qp(id_);
  data_pool_.reset();
  if (registrar_) {
    if (response_region_.handle) registrar_->deregister_region(response_region_);
    if (recv_region_.handle) registrar_->deregister_region(recv_region_);
  }
  std::free(recv_memory_);
  if (cq_) {
    if (unacked_events_) ibv_ack_cq_events(cq_, unacked_events_);
    ibv_destroy_cq(cq_);
  }
  if (comp_channel_) ibv_destroy_comp_channel(comp_channel_);
  if (pd_) ibv_dealloc_pd(pd_);
  if (id_) rdma_destroy_id(id_);
  if (channel_) rdma_destroy_event_channel(channel_);
}

bool RdmaControllerQueue::post_recv(std::uint32_t index) {
  ibv_sge sges[ReceiveLayout::kMaxSges];
  ibv_recv_wr wr{};
  wr.wr_id = make_wr_id(WrKind::recv, index);
  wr.num_sge = static_cast<int>(recv_layout_.fill_sges(recv_memory_, recv_region_.lkey, index, sges));
  wr.sg_list = sges;
  ibv_recv_wr* bad = nullptr;
  return ibv_post_recv(id_->qp, &wr, &bad) == 0;
}

// ------------------------------------------------------------------------------------------ events

void RdmaControllerQueue::on_cm_ready(void* self_ptr) {
  auto* self = static_cast<RdmaControllerQueue*>(self_ptr);
  rdma_cm_event* event = nullptr;
  while (rdma_get_cm_event(self->channel_, &event) == 0) {
    const auto type = event->event;
    rdma_ack_cm_event(event);
    switch (type) {
      case RDMA_CM_EVENT_ESTABLISHED:
        NVMF_LOG(debug, "rdma: %s qid %u established", self->peer_.c_str(), self->cm_.qid);
        break;
      case RDMA_CM_EVENT_DISCONNECTED:
      case RDMA_CM_EVENT_DEVICE_REMOVAL:
      case RDMA_CM_EVENT_TIMEWAIT_EXIT:
      case RDMA_CM_EVENT_CONNECT_ERROR:
      case RDMA_CM_EVENT_UNREACHABLE:
        self->begin_close(rdma_event_str(type));
        break;
      default:
        break;
    }
  }
  self->advance();
}

void RdmaControllerQueue::on_cq_ready(void* self_ptr) {
  auto* self = static_cast<RdmaControllerQueue*>(self_ptr);
  self->in_poll_ = true;
  bool ok = drain_completions(self->comp_channel_, self->cq_, self->unacked_events_,
                              [self](const ibv_wc& wc) { self->handle_completion(wc); });
  self->in_poll_ = false;
  if (!ok) self->begin_close("ibv_req_notify_cq failed");
  self->advance();
}

void RdmaControllerQueue::handle_completion(const ibv_wc& wc) {
  const auto kind = wr_kind(wc.wr_id);
  const auto index = wr_index(wc.wr_id);
  const bool ok = wc.status == IBV_WC_SUCCESS;
  if (!ok && wc.status != IBV_WC_WR_FLUSH_ERR) {
    NVMF_LOG(warn, "rdma: %s qid %u: work completion error %s (wr kind %u)", peer_.c_str(), cm_.qid,
             ibv_wc_status_str(wc.status), static_cast<unsigned>(kind));
  }
  switch (kind) {
    case WrKind::recv:
      if (ok && state_ == State::connected) on_capsule(index, wc.byte_len);
      break;
    case WrKind::read:
      on_read_done(slots_[index], ok && state_ == State::connected);
      break;
    case WrKind::send: {
      recycle(slots_[index]);
      std::uint32_t recv_index = 0, bytes = 0;
      if (state_ == State::connected && slots_.next_waiting(&recv_index, &bytes)) on_capsule(recv_index, bytes);
      break;
    }
    case WrKind::drain_send: drain_send_done_ = true; break;
    default: break;  // unsignaled RDMA WRITEs show up only when flushed
  }
  if (!ok) begin_close("work completion error");
}

// ------------------------------------------------------------------------------------------ commands

void RdmaControllerQueue::on_capsule(std::uint32_t recv_index, std::uint32_t bytes) {
  if (bytes < kCommandCapsuleHeader) {
    NVMF_LOG(warn, "rdma: %s qid %u: %u-byte capsule is shorter than an SQE", peer_.c_str(), cm_.qid, bytes);
    begin_close("short capsule");
    return;
  }
  Slot* slot = slots_.admit(recv_index, bytes);
  if (!slot) return;  // waits for a slot (command_slots.hpp)
  slots_.advance_sq_head(params_.depth);
  switch (capsule_queue::start_command(*slot, recv_memory_ + recv_layout_.sqe_offset(recv_index),
                                       recv_memory_ + recv_layout_.data_offset(recv_index), recv_index, bytes,
                                       in_capsule_limit_, limits_.max_io_size, *data_pool_,
                                       {"rdma", peer_, cm_.qid})) {
    case capsule_queue::CommandStart::respond: send_response(*slot); return;
    case capsule_queue::CommandStart::release_then_deliver:
      release_recv(*slot);  // the SQE is copied; the buffer can take the next capsule
      break;
    case capsule_queue::CommandStart::deliver: break;
  }
  handler_->on_command(slot->req);
}

void RdmaControllerQueue::fetch_data(ControllerRequest& req) {
  Slot& slot = slots_[req.slot];
  if (!capsule_queue::needs_read(slot) || state_ != State::connected) {
    // Nothing to pull (or no connection left to pull it over): report on the next turn, never re-entrantly.
    if (!req.data_ready && state_ != State::connected) req.set_status(Status::generic(NVME_SC_DATA_XFER_ERROR));
    reactor_.defer([this, &req] { handler_->on_data_fetched(req); });
    return;
  }
  slot.phase = Phase::reading;
  if (reads_.acquire(req.slot)) post_read(slot);
}

void RdmaControllerQueue::post_read(Slot& slot) {
  ibv_sge sge{reinterpret_cast<std::uint64_t>(slot.buffer.data), slot.data.length, slot.buffer.lkey};
  ibv_send_wr wr{};
  wr.wr_id = make_wr_id(WrKind::read, slot.req.slot);
  wr.sg_list = &sge;
  wr.num_sge = 1;
  wr.opcode = IBV_WR_RDMA_READ;
  wr.send_flags = IBV_SEND_SIGNALED;
  wr.wr.rdma.remote_addr = slot.data.remote_address;
  wr.wr.rdma.rkey = slot.data.remote_key;
  ibv_send_wr* bad = nullptr;
  if (ibv_post_send(id_->qp, &wr, &bad) != 0) {
    reads_.release();
    NVMF_LOG(error, "rdma: %s qid %u: posting RDMA READ: %s", peer_.c_str(), cm_.qid, std::strerror(errno));
    slot.req.set_status(Status::generic(NVME_SC_DATA_XFER_ERROR));
    reactor_.defer([this, &slot] { handler_->on_data_fetched(slot.req); });
    begin_close("post RDMA READ failed");
  }
}

void RdmaControllerQueue::on_read_done(Slot& slot, bool ok) {
  reads_.release();
  capsule_queue::read_done(slot, ok);
  handler_->on_data_fetched(slot.req);
  std::uint16_t next = 0;
  while (state_ == State::connected && reads_.next_waiting(&next)) post_read(slots_[next]);
}

void RdmaControllerQueue::complete(ControllerRequest& req) {
  Slot& slot = slots_[req.slot];
  slot.handler_owns = false;
  if (state_ != State::connected) {
    recycle(slot);
    advance();
    return;
  }
  send_response(slot);
}

void RdmaControllerQueue::send_response(Slot& slot) {
  ControllerRequest& req = slot.req;
  release_recv(slot);
  slot.phase = Phase::responding;
  nvme::Cqe& cqe = responses_[req.slot];
  slots_.fill_response(slot, cm_.qid, params_.sq_flow_control_disabled, &cqe);

  ibv_sge data_sge{};
  ibv_send_wr write{};
  ibv_sge response_sge{reinterpret_cast<std::uint64_t>(&cqe), kResponseCapsuleSize, response_region_.lkey};
  ibv_send_wr send{};
  send.wr_id = make_wr_id(WrKind::send, req.slot);
  send.sg_list = &response_sge;
  send.num_sge = 1;
  send.send_flags = IBV_SEND_SIGNALED;
  send.opcode = IBV_WR_SEND;
  if (slot.data.invalidate_key && slot.data.location == DataLocation::keyed) {
    // NVMe/RDMA spec 3.3.2: answer an Invalidate Key SGL with SEND with Invalidate of the host's key.
    send.opcode = IBV_WR_SEND_WITH_INV;
    send.invalidate_rkey = slot.data.remote_key;
  }
  ibv_send_wr* first = &send;
  const std::uint32_t length = capsule_queue::keyed_write_length(slot);
  if (length > 0) {
    // Unsignaled: the response SEND behind it on the same QP completes only after the WRITE did.
    data_sge = ibv_sge{reinterpret_cast<std::uint64_t>(slot.buffer.data), length, slot.buffer.lkey};
    write.wr_id = make_wr_id(WrKind::write, req.slot);
    write.sg_list = &data_sge;
    write.num_sge = 1;
    write.opcode = IBV_WR_RDMA_WRITE;
    write.wr.rdma.remote_addr = slot.data.remote_address;
    write.wr.rdma.rkey = slot.data.remote_key;
    write.next = &send;
    first = &write;
  }
  ibv_send_wr* bad = nullptr;
  if (ibv_post_send(id_->qp, first, &bad) != 0) {
    NVMF_LOG(error, "rdma: %s qid %u: posting response: %s", peer_.c_str(), cm_.qid, std::strerror(errno));
    recycle(slot);
    begin_close("post SEND failed");
  }
}

void RdmaControllerQueue::release_recv(Slot& slot) {
  if (!slot.holds_recv) return;
  slot.holds_recv = false;
  if (state_ == State::connected && !post_recv(slot.recv_index)) begin_close("post RECV failed");
}

void RdmaControllerQueue::recycle(Slot& slot) {
  slots_.recycle(slot, *data_pool_);
}

void RdmaControllerQueue::set_params(const QueueParams& params) {
  if (params.depth > cm_.queue_depth)
    NVMF_LOG(warn, "rdma: %s qid %u: Connect SQSIZE + 1 = %u exceeds the CM's HSQSIZE + 1 = %u", peer_.c_str(),
             cm_.qid, params.depth, cm_.queue_depth);
  params_ = params;
}

// ------------------------------------------------------------------------------------------ teardown

void RdmaControllerQueue::close() { begin_close("closed by the controller"); }

void RdmaControllerQueue::begin_close(const char* why) {
  if (state_ != State::connected) return;
  NVMF_LOG(debug, "rdma: %s qid %u closing: %s", peer_.c_str(), cm_.qid, why);
  state_ = State::draining;
  if (id_->qp) {
    rdma_disconnect(id_);
    ibv_qp_attr attr{};
    attr.qp_state = IBV_QPS_ERR;
    ibv_modify_qp(id_->qp, &attr, IBV_QP_STATE);
    // Send completions come in order: once this one flushes, no READ, WRITE or SEND posted before it is pending.
    // (Receive buffers need no drain: nothing of ours waits on them, and destroying the QP stops their DMA.)
    ibv_send_wr send{};
    send.wr_id = make_wr_id(WrKind::drain_send, 0);
    send.opcode = IBV_WR_SEND;
    send.send_flags = IBV_SEND_SIGNALED;
    ibv_send_wr* bad_send = nullptr;
    if (ibv_post_send(id_->qp, &send, &bad_send) != 0) drain_send_done_ = true;
  } else {
    drain_send_done_ = true;
  }
  if (!drain_send_done_)
    drain_timer_ = reactor_.add_timer(kDrainTimeout, [this] {
      drain_timer_ = 0;
      force_drained();
    });
  // Slots waiting for a READ credit never get one now: the handler learns through on_data_fetched.
  std::uint16_t waiting = 0;
  while (reads_.drop_waiting(&waiting)) {
    Slot& slot = slots_[waiting];
    capsule_queue::fail_data_transfer(slot);
    reactor_.defer([this, &slot] { handler_->on_data_fetched(slot.req); });
  }
  if (!closed_notified_) {
    closed_notified_ = true;
    // Deferred: begin_close runs inside handler calls (complete, fetch_data) and completion loops.
    reactor_.defer([this] {
      handler_->on_queue_closed();
      closed_done_ = true;
      advance();
    });
  }
  if (!in_poll_) advance();
}

void RdmaControllerQueue::force_drained() {
  if (state_ != State::draining) return;
  // A provider that never flushes the drain WR (seen with rxe on 6.1) would keep the queue forever: give up on
  // the outstanding work requests; the QP is in the error state, so none of them can still move data.
  NVMF_LOG(warn, "rdma: %s qid %u: send queue not flushed after %lld ms, tearing down anyway", peer_.c_str(), cm_.qid,
           static_cast<long long>(kDrainTimeout.count()));
  for (auto& slot : slots_.all()) {
    if (slot.phase == Phase::responding) recycle(slot);
    if (slot.phase == Phase::reading) on_read_done(slot, false);
  }
  drain_send_done_ = true;
  advance();
}

void RdmaControllerQueue::advance() {
  if (state_ == State::draining && drain_send_done_) {
    state_ = State::drained;
    if (drain_timer_) reactor_.cancel_timer(drain_timer_);
    drain_timer_ = 0;
  }
  // Flushed SENDs recycled their slots; what remains is held by the handler and comes back through complete().
  if (state_ != State::drained || in_poll_ || slots_.active() != 0 || !closed_done_) return;
  delete this;
}

}  // namespace nvmf::fabric::rdma
