// TcpControllerQueue: construction, the handler-facing calls (fetch_data, complete, set_params, close), the send
// side and the life cycle. The receive side is in controller_recv.cpp.
#include "fabric/tcp/controller_queue.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "fabric/log.hpp"

namespace nvmf::fabric::tcp {

namespace {
std::uint32_t make_tag(std::uint16_t slot, std::uint32_t kind) { return std::uint32_t(slot) << 3 | kind; }
/// A transfer that could not happen over this connection: the host may retry it (no DNR).
nvme::Status transport_error() { return nvme::Status::make(NVME_SCT_GENERIC, NVME_SC_TRAN_TPORT_ERROR); }
}  // namespace

TcpControllerQueue* TcpControllerQueue::start(Reactor& reactor, int fd, std::string peer,
                                              const ControllerQueueConfig& config, QueueHandlerFactory& factory,
                                              std::unique_ptr<tls::RecordStream> records) {
  auto* q = new TcpControllerQueue(reactor, fd, std::move(peer), config, std::move(records));
  q->handler_ = factory.make_handler(*q);
  NVMF_LOG(info, "tcp: connection up from %s", q->peer_.c_str());
  q->receiver_.start();
  q->connect_timer_ = reactor.add_timer(config.connect_timeout, [q] {
    q->connect_timer_ = 0;
    if (!q->params_set_) q->teardown("no Connect in time");
  });
  return q;
}

TcpControllerQueue::TcpControllerQueue(Reactor& reactor, int fd, std::string peer, const ControllerQueueConfig& config,
                                       std::unique_ptr<tls::RecordStream> records)
    : reactor_(reactor),
      fd_(fd),
      records_(std::move(records)),
      peer_(std::move(peer)),
      config_(config),
      // A request's data lives in one pooled buffer: never promise more than a buffer holds.
      max_io_size_(static_cast<std::uint32_t>(
          std::min<std::size_t>(config.limits.max_io_size, reactor.buffers().buffer_size()))),
      max_h2c_data_(config.max_h2c_data ? std::min(config.max_h2c_data, max_io_size_) : max_io_size_),
      receiver_(reactor, fd, *this, config.receive_buffer_size, records_.get()),
      sender_(reactor, fd, *this, records_.get()),
      slots_(std::max<std::uint16_t>(config.limits.max_queue_depth, 1)) {
  config_.limits.admin_in_capsule_data_size = std::min(config_.limits.admin_in_capsule_data_size, max_io_size_);
  config_.limits.in_capsule_data_size = std::min(config_.limits.in_capsule_data_size, max_io_size_);
  free_slots_.reserve(slots_.size());
  r2t_waiting_.reserve(slots_.size());
  for (std::size_t i = slots_.size(); i-- > 0;) {
    slots_[i].req.slot = static_cast<std::uint16_t>(i);
    slots_[i].req.queue = this;
    free_slots_.push_back(static_cast<std::uint16_t>(i));
  }
}

TcpControllerQueue::~TcpControllerQueue() {
  if (fd_ >= 0) ::close(fd_);
}

std::uint32_t TcpControllerQueue::in_capsule_limit() const {
  // Before Connect the queue only carries the Connect itself, which the admin/fabrics limit covers.
  return params_set_ && params_.qid != 0 ? config_.limits.in_capsule_data_size
                                         : config_.limits.admin_in_capsule_data_size;
}

void TcpControllerQueue::set_params(const QueueParams& params) {
  params_ = params;
  params_set_ = true;
  if (connect_timer_) {
    reactor_.cancel_timer(connect_timer_);
    connect_timer_ = 0;
  }
  if (params_.depth == 0 || params_.depth > slots_.size()) params_.depth = static_cast<std::uint16_t>(slots_.size());
  // The Connect command itself consumed one submission queue entry.
  sqhd_ = static_cast<std::uint16_t>(1 % params_.depth);
}

void TcpControllerQueue::fetch_data(ControllerRequest& req) {
  Slot& s = slot_of(req);
  if (!sending_allowed() || req.direction != DataDirection::host_to_controller || req.data_ready ||
      req.data_length == 0) {
    if (!sending_allowed()) req.set_status(transport_error());
    req.data_ready = sending_allowed();
    // Answer on the next turn, not from inside the handler's own call.
    ++deferred_calls_;  // keeps the queue alive until the call ran
    reactor_.defer([this, &req] {
      --deferred_calls_;
      if (slot_of(req).state == SlotState::with_handler) handler_->on_data_fetched(req);
      if (closing_) schedule_turn();
    });
    return;
  }
  s.state = SlotState::fetching;
  s.h2c_received = 0;
  s.r2t_issued = 0;
  s.r2t_outstanding = 0;
  s.data_error = false;
  if (config_.limits.max_r2t_commands != 0 && r2t_active_ >= config_.limits.max_r2t_commands) {
    s.awaiting_r2t = true;
    r2t_waiting_.push_back(req.slot);
    return;
  }
  ++r2t_active_;
  issue_r2ts(s);
}

bool TcpControllerQueue::cancel(ControllerRequest& req) {
  Slot& s = slot_of(req);
  // Once an R2T has been queued its TTAG may be on the wire and the host may be sending: the transfer must run
  // to its end (the TTAG stays valid), so only a command still waiting for its first R2T can be withdrawn.
  if (s.state != SlotState::fetching || !s.awaiting_r2t) return false;
  leave_r2t_phase(s);
  s.state = SlotState::with_handler;
  return true;
}

void TcpControllerQueue::leave_r2t_phase(Slot& s) {
  if (s.awaiting_r2t) {
    s.awaiting_r2t = false;
    r2t_waiting_.erase(std::find(r2t_waiting_.begin(), r2t_waiting_.end(), s.req.slot));
    return;
  }
  --r2t_active_;
  admit_waiting_r2t();
}

void TcpControllerQueue::admit_waiting_r2t() {
  while (sending_allowed() && !r2t_waiting_.empty() &&
         (config_.limits.max_r2t_commands == 0 || r2t_active_ < config_.limits.max_r2t_commands)) {
    Slot& next = slots_[r2t_waiting_.front()];
    r2t_waiting_.erase(r2t_waiting_.begin());
    next.awaiting_r2t = false;
    ++r2t_active_;
    issue_r2ts(next);
  }
}

void TcpControllerQueue::issue_r2ts(Slot& s) {
  while (s.state == SlotState::fetching && s.r2t_issued < s.req.data_length &&
         s.r2t_outstanding < max_r2t_outstanding_) {
    unsigned i = 0;
    while (i < kMaxR2tPerCommand && (s.r2t_busy & (1u << i))) ++i;
    if (i == kMaxR2tPerCommand) return;  // resumes when an R2T PDU is released
    std::uint32_t len = std::min(max_h2c_data_, s.req.data_length - s.r2t_issued);
    OutPdu& p = s.r2t[i];
    p.head = p.storage;
    // TTAG is the request's pool index: unique among the commands in flight on this queue.
    p.set(build_r2t(p.storage, s.req.sqe.cid, s.req.slot, s.r2t_issued, len, digests_), nullptr, 0, 0, 0, false);
    p.tag = make_tag(s.req.slot, i);
    s.r2t_busy |= static_cast<std::uint8_t>(1u << i);
    ++s.pdus_queued;
    s.r2t_issued += len;
    ++s.r2t_outstanding;
    sender_.enqueue(p);
  }
}

void TcpControllerQueue::finish_fetch(Slot& s) {
  leave_r2t_phase(s);
  s.state = SlotState::with_handler;
  s.req.data_ready = !s.data_error;
  // A data digest error is not fatal: the command completes with Transient Transport Error (NVMe/TCP transport
  // spec, data digest error handling), as SPDK's target does.
  if (s.data_error) s.req.set_status(transport_error());
  handler_->on_data_fetched(s.req);
}

void TcpControllerQueue::keep_data(ControllerRequest& req) {
  if (!req.data_borrowed) return;
  Slot& s = slot_of(req);
  std::byte* own = reactor_.buffers().get();
  std::memcpy(own, req.data, s.data_iov.iov_len);  // the in-capsule bytes (handle_capsule)
  req.data = own;
  req.data_borrowed = false;
  s.data_iov.iov_base = own;
}

void TcpControllerQueue::complete(ControllerRequest& req) {
  Slot& s = slot_of(req);
  s.state = SlotState::completing;
  if (!sending_allowed()) {  // connection gone or terminating: nothing more goes on the wire
    recycle_if_done(s);
    return;
  }
  send_completion(s);
}

void TcpControllerQueue::send_completion(Slot& s) {
  ControllerRequest& req = s.req;
  req.cqe.cid = req.sqe.cid;
  req.cqe.sqid = params_.qid;
  req.cqe.sqhd = params_.sq_flow_control_disabled ? 0 : sqhd_;
  const bool ok = req.status().ok();
  bool fold_response = false;
  if (ok && req.direction == DataDirection::controller_to_host && req.data_length > 0) {
    std::uint32_t len = std::min(req.data_length, s.sgl_length);
    // SUCCESS replaces the CapsuleResp only when the host disabled SQ flow control and the response would carry
    // nothing but success (NVMe/TCP 3.6.2.8; Linux rejects SUCCESS without LAST_PDU).
    fold_response = params_.sq_flow_control_disabled && req.cqe.dw0 == 0 && req.cqe.dw1 == 0;
    std::uint8_t flags = pdu::kFlagLastPdu | (fold_response ? pdu::kFlagSuccess : 0);
    // Lent data (today the null namespace's zero page) is sent where it lies; req.lender keeps it alive
    // until recycle_if_done, which only runs once the sender released this PDU.
    if (req.lent_data) s.data_iov = {const_cast<std::byte*>(req.lent_data), len};
    s.c2h.head = s.c2h.storage;
    s.c2h.set(build_c2h_data(s.c2h.storage, req.sqe.cid, 0, len, flags, digests_, pda_bytes(hpda_)), &s.data_iov, 1,
              0, len, digests_.data);
    s.c2h.tag = make_tag(req.slot, kTagC2h);
    ++s.pdus_queued;
    sender_.enqueue(s.c2h);
  }
  if (!fold_response) {
    s.resp.head = s.resp.storage;
    s.resp.set(build_capsule_resp(s.resp.storage, req.cqe, digests_), nullptr, 0, 0, 0, false);
    s.resp.tag = make_tag(req.slot, kTagResp);
    ++s.pdus_queued;
    sender_.enqueue(s.resp);
  }
}

void TcpControllerQueue::recycle_if_done(Slot& s) {
  if (s.state != SlotState::completing || s.pdus_queued != 0) return;
  if (s.req.data && !s.req.data_borrowed) reactor_.buffers().put(s.req.data);
  s.req.reset_for_next_command();
  s.data_iov = {};
  s.state = SlotState::free;
  s.sgl_length = 0;
  free_slots_.push_back(s.req.slot);
  --in_use_;
  if (closing_)
    schedule_turn();
  else
    receiver_.resume();  // a capsule may be waiting for a free request
}

void TcpControllerQueue::on_pdu_released(OutPdu& p, bool) {
  const std::uint32_t kind = p.tag & ((1u << kTagBits) - 1);
  if (kind == kTagIcResp) return;
  if (kind == kTagTermReq) {
    teardown("C2HTermReq sent");
    return;
  }
  Slot& s = slots_[p.tag >> kTagBits];
  --s.pdus_queued;
  if (kind < kMaxR2tPerCommand) {
    s.r2t_busy &= static_cast<std::uint8_t>(~(1u << kind));
    if (sending_allowed()) issue_r2ts(s);
  }
  recycle_if_done(s);
}

void TcpControllerQueue::on_send_error(int error) {
  NVMF_LOG(info, "tcp: send to %s failed: %s", peer_.c_str(), std::strerror(error));
  teardown("send failed");
}

void TcpControllerQueue::terminate(const FatalError& error, const std::uint8_t* header, std::size_t len) {
  if (closing_ || terminating_) return;
  terminating_ = true;
  const auto type = static_cast<unsigned>(header[0]);
  NVMF_LOG(warn, "tcp: protocol error from %s (PDU type %02Xh): %s (FES %02Xh, FEI %u); sending C2HTermReq",
           peer_.c_str(), type, fes_name(error.fes), static_cast<unsigned>(error.fes), error.fei);
  receiver_.stop();
  ::shutdown(fd_, SHUT_RD);  // ends the parked recv; the write side stays open for the TermReq
  std::uint32_t plen = build_term_req(term_buf_, pdu::PduType::c2h_term_req, error, header, len);
  term_pdu_.set(PduLayout{plen, 0, 0, plen}, nullptr, 0, 0, 0, false);
  term_pdu_.head = term_buf_;
  term_pdu_.tag = kTagTermReq;
  sender_.enqueue(term_pdu_);
  // A peer that does not read must not keep the connection (and its requests) alive.
  term_timer_ = reactor_.add_timer(config_.term_req_timeout, [this] {
    term_timer_ = 0;
    teardown("C2HTermReq not sent in time");
  });
}

void TcpControllerQueue::close() { teardown("closed by the controller"); }

void TcpControllerQueue::teardown(const char* why) {
  if (closing_) return;
  closing_ = true;
  if (term_timer_) {
    reactor_.cancel_timer(term_timer_);
    term_timer_ = 0;
  }
  if (connect_timer_) {
    reactor_.cancel_timer(connect_timer_);
    connect_timer_ = 0;
  }
  NVMF_LOG(info, "tcp: connection down from %s (%s)", peer_.c_str(), why);
  receiver_.stop();
  ::shutdown(fd_, SHUT_RDWR);  // completes the recv (and any send) still parked in the kernel
  sender_.abort();
  // A capsule whose data never fully arrived was never seen by the handler.
  if (capsule_slot_) {
    capsule_slot_->state = SlotState::completing;
    Slot* s = capsule_slot_;
    capsule_slot_ = nullptr;
    recycle_if_done(*s);
  }
  schedule_turn();
}

void TcpControllerQueue::schedule_turn() {
  if (turn_scheduled_) return;
  turn_scheduled_ = true;
  reactor_.defer([this] {
    turn_scheduled_ = false;
    end_of_turn();
  });
}

void TcpControllerQueue::end_of_turn() {
  if (!closing_) return;
  if (!handler_notified_) {
    handler_notified_ = true;
    handler_->on_queue_closed();
    // Requests waiting for host data will not get it: hand them back so the handler can complete them.
    for (Slot& s : slots_) {
      if (s.state != SlotState::fetching) continue;
      s.data_error = true;
      finish_fetch(s);
    }
  }
  if (turn_scheduled_ || deferred_calls_ != 0 || in_use_ != 0 || receiver_.busy() || !sender_.idle()) return;
  delete this;
}

}  // namespace nvmf::fabric::tcp
