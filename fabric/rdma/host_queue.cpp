#include "fabric/rdma/host_queue.hpp"

#include <fcntl.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "fabric/host_status.hpp"
#include "fabric/log.hpp"
#include "fabric/rdma/capsule.hpp"
#include "fabric/rdma/cm_address.hpp"
#include "fabric/rdma/cm_private_data.hpp"
#include "fabric/rdma/completion_drain.hpp"
#include "fabric/rdma/fd_watch.hpp"
#include "fabric/reactor.hpp"

namespace nvmf::fabric {

using nvme::Status;
using rdma::WrKind;

namespace {
constexpr std::uint32_t kCapsuleSize = rdma::kCommandCapsuleHeader + rdma::kHostMaxInCapsule;
constexpr std::size_t kBounceSize = 128 * 1024;  ///< Multi-buffer requests are staged through these
constexpr std::size_t kAlignment = 4096;

std::uint32_t iov_total(const HostRequest& req) {
  std::uint64_t total = 0;
  for (std::uint32_t i = 0; i < req.iovcnt; ++i) total += req.iov[i].iov_len;
  return total > 0xFFFFFFFFu ? 0xFFFFFFFFu : static_cast<std::uint32_t>(total);
}
void gather(const HostRequest& req, std::byte* out) {
  for (std::uint32_t i = 0; i < req.iovcnt; ++i) {
    std::memcpy(out, req.iov[i].iov_base, req.iov[i].iov_len);
    out += req.iov[i].iov_len;
  }
}
void scatter(const std::byte* in, const HostRequest& req) {
  for (std::uint32_t i = 0; i < req.iovcnt; ++i) {
    std::memcpy(req.iov[i].iov_base, in, req.iov[i].iov_len);
    in += req.iov[i].iov_len;
  }
}

// Wait for the next rdma_cm event on a non-blocking channel; false on timeout. The reactor keeps turning
// meanwhile (every few milliseconds): its timers, such as the admin queue's Keep Alive, must not stall while a
// queue connects.
bool wait_cm_event(Reactor& reactor, rdma_event_channel* channel, std::chrono::steady_clock::time_point deadline,
                   rdma_cm_event** event) {
  constexpr std::int64_t kTurnMs = 5;
  for (;;) {
    if (rdma_get_cm_event(channel, event) == 0) return true;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd pfd{channel->fd, POLLIN, 0};
    ::poll(&pfd, 1, static_cast<int>(std::min<std::int64_t>(left.count(), kTurnMs)));
    reactor.run_once(std::chrono::milliseconds(0));
  }
}
}  // namespace

struct RdmaHostQueue::Slot {
  HostRequest* req = nullptr;
  bool busy = false;
  bool send_done = false;
  bool response_done = false;
  bool invalidating = false;  ///< LOCAL_INV of the window posted, not yet completed
  bool window_bound = false;
  std::uint32_t window_rkey = 0;
  std::uint32_t length = 0;
  nvme::Cqe response{};
  rdma::RegistrationCache::Entry* registration = nullptr;
  rdma::RegisteredPool::Buffer bounce;
};

RdmaHostQueue::RdmaHostQueue(Reactor& reactor, std::uint16_t qid, std::uint16_t depth)
    : reactor_(reactor), qid_(qid), depth_(depth) {}

std::unique_ptr<RdmaHostQueue> connect_rdma_host_queue(Reactor& reactor, const HostQueueOptions& options,
                                                       std::uint16_t qid, std::uint16_t cntlid, std::string* error,
                                                       bool memory_windows) {
  std::string local_error;
  std::string* err = error ? error : &local_error;
  if (options.queue_depth < 2) {
    *err = "queue depth " + std::to_string(options.queue_depth) + " < 2";
    return nullptr;
  }
  std::unique_ptr<RdmaHostQueue> q(new RdmaHostQueue(reactor, qid, options.queue_depth));
  if (!q->connect(options, cntlid, memory_windows, err)) return nullptr;
  return q;
}

bool RdmaHostQueue::connect(const HostQueueOptions& options, std::uint16_t cntlid, bool memory_windows,
                            std::string* error) {
  const std::string where = "rdma " + options.traddr + ":" + options.trsvcid + " qid " + std::to_string(qid_);
  auto fail_with = [&](const std::string& what) {
    *error = where + ": " + what;
    return false;
  };
  auto sys_fail = [&](const char* what) { return fail_with(std::string(what) + ": " + std::strerror(errno)); };
  const auto deadline = std::chrono::steady_clock::now() + options.connect_timeout;
  const int timeout_ms = static_cast<int>(std::max<std::int64_t>(1, options.connect_timeout.count()));

  sockaddr_storage sa{};
  if (!rdma::make_sockaddr(options.traddr, options.trsvcid, &sa, error)) return false;
  if (!(channel_ = rdma_create_event_channel())) return sys_fail("rdma_create_event_channel (no RDMA device?)");
  fcntl(channel_->fd, F_SETFL, fcntl(channel_->fd, F_GETFL) | O_NONBLOCK);
  if (rdma_create_id(channel_, &id_, nullptr, RDMA_PS_TCP) != 0) return sys_fail("rdma_create_id");

  // Address, then route, then the connection: each step is one expected event.
  auto expect = [&](rdma_cm_event_type wanted, const char* step, auto&& on_event) {
    rdma_cm_event* event = nullptr;
    if (!wait_cm_event(reactor_, channel_, deadline, &event)) return fail_with(std::string(step) + ": timed out");
    const auto type = event->event;
    std::string detail;
    bool ok = type == wanted;
    if (ok) {
      ok = on_event(event, &detail);
    } else if (type == RDMA_CM_EVENT_REJECTED) {
      detail = rdma::describe_reject(event->param.conn.private_data, event->param.conn.private_data_len);
    } else {
      detail = std::string(rdma_event_str(type)) + " (status " + std::to_string(event->status) + ")";
    }
    rdma_ack_cm_event(event);
    return ok ? true : fail_with(std::string(step) + ": " + detail);
  };
  auto no_check = [](rdma_cm_event*, std::string*) { return true; };

  if (rdma_resolve_addr(id_, nullptr, reinterpret_cast<sockaddr*>(&sa), timeout_ms) != 0)
    return sys_fail("rdma_resolve_addr");
  if (!expect(RDMA_CM_EVENT_ADDR_RESOLVED, "resolving the address", no_check)) return false;
  if (rdma_resolve_route(id_, timeout_ms) != 0) return sys_fail("rdma_resolve_route");
  if (!expect(RDMA_CM_EVENT_ROUTE_RESOLVED, "resolving the route", no_check)) return false;
  if (!create_resources(memory_windows, error)) return fail_with(*error);

  auto request = rdma::make_connect_request(qid_, depth_, cntlid);
  ibv_device_attr attr{};
  ibv_query_device(id_->verbs, &attr);
  rdma_conn_param conn{};
  conn.private_data = &request;
  conn.private_data_len = sizeof request;
  // The controller RDMA READs our write data: offer what the device allows. We never read from it.
  conn.responder_resources = static_cast<std::uint8_t>(std::clamp(attr.max_qp_rd_atom, 1, 255));
  conn.initiator_depth = 0;
  conn.retry_count = 7;      // as the Linux host
  conn.rnr_retry_count = 7;  // 7: retry forever on receiver-not-ready
  conn.flow_control = 1;
  if (rdma_connect(id_, &conn) != 0) return sys_fail("rdma_connect");
  if (!expect(RDMA_CM_EVENT_ESTABLISHED, "connecting", [this](rdma_cm_event* event, std::string* detail) {
        auto crqsize = rdma::parse_accept(event->param.conn.private_data, event->param.conn.private_data_len);
        if (!crqsize) {
          *detail = "accept without a valid NVMe/RDMA record";
          return false;
        }
        crqsize_ = *crqsize;
        return true;
      }))
    return false;
  // More commands than the controller has receive buffers for would only meet RNR retries.
  if (crqsize_ < depth_) {
    NVMF_LOG(info, "rdma: qid %u: controller receive queue %u < depth %u, lowering the depth", qid_, crqsize_,
             depth_);
    depth_ = std::max<std::uint16_t>(crqsize_, 1);
  }
  alive_ = true;
  cq_watch_ = rdma::FdWatch::start(reactor_, comp_channel_->fd, this, &RdmaHostQueue::on_cq_ready);
  cm_watch_ = rdma::FdWatch::start(reactor_, channel_->fd, this, &RdmaHostQueue::on_cm_ready);
  return true;
}

bool RdmaHostQueue::create_resources(bool memory_windows, std::string* error) {
  auto fail = [error](const char* what) {
    *error = std::string(what) + ": " + std::strerror(errno);
    return false;
  };
  ibv_context* verbs = id_->verbs;
  if (!(pd_ = ibv_alloc_pd(verbs))) return fail("ibv_alloc_pd");
  if (!(comp_channel_ = ibv_create_comp_channel(verbs))) return fail("ibv_create_comp_channel");
  fcntl(comp_channel_->fd, F_SETFL, fcntl(comp_channel_->fd, F_GETFL) | O_NONBLOCK);
  // Per slot: window bind, command SEND, local invalidate.
  const std::uint32_t send_wrs = 3u * depth_;
  const std::uint32_t recv_wrs = depth_;
  if (!(cq_ = ibv_create_cq(verbs, static_cast<int>(send_wrs + recv_wrs), this, comp_channel_, 0)))
    return fail("ibv_create_cq");
  ibv_qp_init_attr qp{};
  qp.send_cq = cq_;
  qp.recv_cq = cq_;
  qp.qp_type = IBV_QPT_RC;
  qp.cap.max_send_wr = send_wrs;
  qp.cap.max_recv_wr = recv_wrs;
  qp.cap.max_send_sge = 1;
  qp.cap.max_recv_sge = 1;
  if (rdma_create_qp(id_, pd_, &qp) != 0) return fail("rdma_create_qp");

  // Probe type 2 memory windows; without them requests use the registration's rkey and no invalidation.
  for (std::uint16_t i = 0; memory_windows && i < depth_; ++i) {
    ibv_mw* mw = ibv_alloc_mw(pd_, IBV_MW_TYPE_2);
    if (!mw) {
      for (auto* w : windows_) ibv_dealloc_mw(w);
      windows_.clear();
      NVMF_LOG(debug, "rdma: qid %u: no type 2 memory windows (%s): keyed SGLs without invalidation", qid_,
               std::strerror(errno));
      break;
    }
    windows_.push_back(mw);
  }
  const int app_access = IBV_ACCESS_LOCAL_WRITE |
                         (windows_.empty() ? IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_WRITE : IBV_ACCESS_MW_BIND);
  app_registrar_ = std::make_unique<rdma::VerbsRegistrar>(pd_, app_access);
  buffer_registrar_ = std::make_unique<rdma::VerbsRegistrar>(pd_, IBV_ACCESS_LOCAL_WRITE);
  cache_ = std::make_unique<rdma::RegistrationCache>(*app_registrar_);
  bounce_pool_ = std::make_unique<rdma::RegisteredPool>(*app_registrar_, kBounceSize, 4, depth_);

  const std::size_t capsule_bytes = (std::size_t(depth_) * kCapsuleSize + kAlignment - 1) / kAlignment * kAlignment;
  capsules_ = static_cast<std::byte*>(std::aligned_alloc(kAlignment, capsule_bytes));
  if (!capsules_) return fail("allocating command capsules");
  if (!buffer_registrar_->register_region(reinterpret_cast<std::uintptr_t>(capsules_), capsule_bytes,
                                          &capsule_region_, error))
    return false;
  responses_.assign(depth_, nvme::Cqe{});
  if (!buffer_registrar_->register_region(reinterpret_cast<std::uintptr_t>(responses_.data()),
                                          responses_.size() * sizeof(nvme::Cqe), &response_region_, error))
    return false;
  slots_.resize(depth_);
  for (std::uint16_t i = depth_; i-- > 0;) {
    free_slots_.push_back(i);
    if (!windows_.empty()) slots_[i].window_rkey = windows_[i]->rkey;
  }
  for (std::uint32_t i = 0; i < depth_; ++i)
    if (!post_recv(i)) return fail("ibv_post_recv");
  if (ibv_req_notify_cq(cq_, 0) != 0) return fail("ibv_req_notify_cq");
  return true;
}

RdmaHostQueue::~RdmaHostQueue() {
  if (alive_) close();
  if (cq_watch_) cq_watch_->detach();
  if (cm_watch_) cm_watch_->detach();
  if (id_ && id_->qp) rdma_destroy_qp(id_);
  for (auto* w : windows_) ibv_dealloc_mw(w);
  cache_.reset();
  bounce_pool_.reset();
  if (buffer_registrar_) {
    if (capsule_region_.handle) buffer_registrar_->deregister_region(capsule_region_);
    if (response_region_.handle) buffer_registrar_->deregister_region(response_region_);
  }
  std::free(capsules_);
  if (cq_) {
    if (unacked_events_) ibv_ack_cq_events(cq_, unacked_events_);
    ibv_destroy_cq(cq_);
  }
  if (comp_channel_) ibv_destroy_comp_channel(comp_channel_);
  if (pd_) ibv_dealloc_pd(pd_);
  if (id_) rdma_destroy_id(id_);
  if (channel_) rdma_destroy_event_channel(channel_);
}

bool RdmaHostQueue::post_recv(std::uint32_t index) {
  ibv_sge sge{reinterpret_cast<std::uint64_t>(&responses_[index]), rdma::kResponseCapsuleSize,
              response_region_.lkey};
  ibv_recv_wr wr{};
  wr.wr_id = rdma::make_wr_id(WrKind::recv, index);
  wr.sg_list = &sge;
  wr.num_sge = 1;
  ibv_recv_wr* bad = nullptr;
  return ibv_post_recv(id_->qp, &wr, &bad) == 0;
}

void RdmaHostQueue::set_in_capsule_limit(std::uint32_t limit) {
  in_capsule_limit_ = rdma::host_in_capsule_limit(limit);
}

bool RdmaHostQueue::register_buffer(void* address, std::size_t length, std::string* error) {
  if (!cache_) return false;
  auto* entry = cache_->acquire(address, length, error);
  if (!entry) return false;
  cache_->release(entry);  // stays cached, unused
  return true;
}

void RdmaHostQueue::unregister_buffer(void* address, std::size_t length) {
  if (cache_) cache_->forget(address, length);
}

// ------------------------------------------------------------------------------------------ submit

bool RdmaHostQueue::submit(HostRequest& req) {
  if (!alive_ || free_slots_.empty() || outstanding_ >= depth_) return false;
  const std::uint32_t length = req.direction == DataDirection::none ? 0 : iov_total(req);
  const std::uint16_t index = free_slots_.back();
  Slot& slot = slots_[index];
  std::byte* capsule = capsules_ + std::size_t(index) * kCapsuleSize;

  nvme::Sqe sqe = req.sqe;
  sqe.cid = index;
  std::uint32_t send_length = rdma::kCommandCapsuleHeader;
  ibv_send_wr bind{};
  bool use_bind = false;
  const std::uint32_t window_rkey = slot.window_rkey;  // the window's key survives between its requests
  slot = Slot{};
  slot.window_rkey = window_rkey;
  if (length == 0) {
    rdma::set_null_sgl(sqe);
  } else if (req.direction == DataDirection::host_to_controller && length <= in_capsule_limit_) {
    gather(req, capsule + rdma::kCommandCapsuleHeader);
    rdma::set_in_capsule_sgl(sqe, length);
    send_length += length;
  } else {
    std::string why;
    if (length > rdma::kMaxKeyedLength || (req.iovcnt > 1 && length > bounce_pool_->buffer_size())) {
      why = "transfer of " + std::to_string(length) + " bytes in " + std::to_string(req.iovcnt) +
            " buffers exceeds the keyed SGL limit";
    } else {
      std::uintptr_t address = 0;
      ibv_mr* mr = nullptr;
      std::uint32_t rkey = 0;
      if (req.iovcnt == 1) {
        slot.registration = cache_->acquire(req.iov[0].iov_base, length, &why);
        if (slot.registration) {
          address = reinterpret_cast<std::uintptr_t>(req.iov[0].iov_base);
          mr = static_cast<ibv_mr*>(slot.registration->region.handle);
          rkey = slot.registration->region.rkey;
        }
      } else {
        slot.bounce = bounce_pool_->get();
        if (slot.bounce) {
          if (req.direction == DataDirection::host_to_controller) gather(req, slot.bounce.data);
          address = reinterpret_cast<std::uintptr_t>(slot.bounce.data);
          mr = static_cast<ibv_mr*>(slot.bounce.handle);
          rkey = slot.bounce.rkey;
        } else {
          why = bounce_pool_->last_error();
        }
      }
      if (mr && !windows_.empty()) {
        // Expose exactly this request's bytes, for this request only; the controller invalidates the window.
        slot.window_rkey = ibv_inc_rkey(slot.window_rkey);
        bind.wr_id = rdma::make_wr_id(WrKind::bind, index);
        bind.opcode = IBV_WR_BIND_MW;
        bind.bind_mw.mw = windows_[index];
        bind.bind_mw.rkey = slot.window_rkey;
        bind.bind_mw.bind_info.mr = mr;
        bind.bind_mw.bind_info.addr = address;
        bind.bind_mw.bind_info.length = length;
        bind.bind_mw.bind_info.mw_access_flags = req.direction == DataDirection::host_to_controller
                                                     ? IBV_ACCESS_REMOTE_READ
                                                     : IBV_ACCESS_REMOTE_WRITE;
        use_bind = true;
        slot.window_bound = true;
        rdma::set_keyed_sgl(sqe, address, length, slot.window_rkey, true);
      } else if (mr) {
        rdma::set_keyed_sgl(sqe, address, length, rkey, false);
      }
    }
    if (!use_bind && why.size()) {
      if (slot.registration) cache_->release(slot.registration);
      bounce_pool_->put(slot.bounce);
      slot = Slot{};
      slot.window_rkey = window_rkey;
      NVMF_LOG(error, "rdma: qid %u: cannot map request data: %s", qid_, why.c_str());
      HostRequest* r = &req;
      r->cqe = nvme::Cqe{};
      r->cqe.cid = index;
      r->cqe.set_status(Status::make(NVME_SCT_GENERIC, NVME_SC_INTERNAL, true));
      reactor_.defer([r] { r->on_complete(*r); });
      return true;
    }
  }
  std::memcpy(capsule, &sqe, sizeof sqe);
  slot.req = &req;
  slot.busy = true;
  slot.length = length;
  free_slots_.pop_back();
  ++outstanding_;

  ibv_sge sge{reinterpret_cast<std::uint64_t>(capsule), send_length, capsule_region_.lkey};
  ibv_send_wr send{};
  send.wr_id = rdma::make_wr_id(WrKind::send, index);
  send.sg_list = &sge;
  send.num_sge = 1;
  send.opcode = IBV_WR_SEND;
  send.send_flags = IBV_SEND_SIGNALED;
  if (use_bind) bind.next = &send;
  ibv_send_wr* bad = nullptr;
  if (ibv_post_send(id_->qp, use_bind ? &bind : &send, &bad) != 0)
    fail(std::string("ibv_post_send: ") + std::strerror(errno), host_path_error());
  return true;
}

// ------------------------------------------------------------------------------------------ completions

void RdmaHostQueue::on_cq_ready(void* self_ptr) {
  auto* self = static_cast<RdmaHostQueue*>(self_ptr);
  self->in_poll_ = true;
  bool ok = rdma::drain_completions(self->comp_channel_, self->cq_, self->unacked_events_,
                                    [self](const ibv_wc& wc) { self->handle_completion(wc); });
  self->in_poll_ = false;
  if (!ok && self->alive_) self->fail("ibv_req_notify_cq failed", host_path_error());
}

void RdmaHostQueue::on_cm_ready(void* self_ptr) {
  auto* self = static_cast<RdmaHostQueue*>(self_ptr);
  rdma_cm_event* event = nullptr;
  while (rdma_get_cm_event(self->channel_, &event) == 0) {
    const auto type = event->event;
    rdma_ack_cm_event(event);
    if (type == RDMA_CM_EVENT_DISCONNECTED || type == RDMA_CM_EVENT_DEVICE_REMOVAL ||
        type == RDMA_CM_EVENT_TIMEWAIT_EXIT) {
      if (self->alive_)
        self->fail(std::string("controller disconnected (") + rdma_event_str(type) + ")", host_path_error());
    }
  }
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
  if (cqe.cid >= slots_.size() || !slots_[cqe.cid].busy || slots_[cqe.cid].response_done) {
    fail("response for command identifier " + std::to_string(cqe.cid) + " that is not outstanding", host_path_error());
    return;
  }
  Slot& slot = slots_[cqe.cid];
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
  if (transport_status.ok()) {
    if (slot.bounce && req.direction == DataDirection::controller_to_host && slot.response.get_status().ok())
      scatter(slot.bounce.data, req);
    req.cqe = slot.response;
  } else {
    req.cqe = nvme::Cqe{};
    req.cqe.cid = index;
    req.cqe.set_status(transport_status);
  }
  if (slot.registration) cache_->release(slot.registration);
  bounce_pool_->put(slot.bounce);
  const std::uint32_t window_rkey = slot.window_rkey;
  slot = Slot{};
  slot.window_rkey = window_rkey;
  free_slots_.push_back(index);
  --outstanding_;
  req.on_complete(req);
}

void RdmaHostQueue::fail(const std::string& why, Status status) {
  if (!alive_) return;
  alive_ = false;
  error_.message = why;
  if (status == host_aborted())
    NVMF_LOG(debug, "rdma: qid %u: %s", qid_, why.c_str());
  else
    NVMF_LOG(warn, "rdma: qid %u: %s", qid_, why.c_str());
  rdma_disconnect(id_);  // moves the QP to the error state: the controller can no longer touch our memory
  for (auto& slot : slots_)
    if (slot.busy) finish(slot, status);
}

void RdmaHostQueue::close() {
  if (alive_) fail("closed by the host", host_aborted());
}

}  // namespace nvmf::fabric
