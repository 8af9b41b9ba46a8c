// TcpControllerQueue, receive side: what each PDU from the host means, once PduReceiver has framed it.
#include <cassert>
#include <cstring>

#include "fabric/log.hpp"
#include "fabric/tcp/command_data.hpp"
#include "fabric/tcp/controller_queue.hpp"

namespace nvmf::fabric::tcp {

using pdu::PduType;
using Verdict = PduReceiver::Verdict;

std::optional<FatalError> TcpControllerQueue::check_header(const pdu::CommonHeader& ch) {
  ReceiveRules rules;
  rules.role = Role::controller;
  rules.connected = connected_;
  rules.digests = digests_;
  rules.alignment = pda_bytes(0);  // our CPDA is 0 (the Linux host rejects anything else)
  rules.max_capsule_data = in_capsule_limit();
  rules.max_data_pdu = max_h2c_data_;
  return check_common_header(ch, rules);
}

Verdict TcpControllerQueue::on_header(const std::uint8_t* header, DataSink& sink, FatalError& error) {
  const auto& ch = *reinterpret_cast<const pdu::CommonHeader*>(header);
  switch (ch.pdu_type) {
    case PduType::capsule_cmd: return accept_capsule(header, sink);
    case PduType::h2c_data: return accept_h2c_data(header, sink, error);
    default: return Verdict::accept;  // ICReq has no data; a TermReq's offending header is discarded
  }
}

Verdict TcpControllerQueue::accept_capsule(const std::uint8_t* header, DataSink& sink) {
  if (free_slots_.empty()) return Verdict::stall;  // resumes when a completion recycles a request
  Slot& s = slots_[free_slots_.back()];
  free_slots_.pop_back();
  ++in_use_;
  s.state = SlotState::receiving_capsule;
  std::memcpy(&s.req.sqe, header + offsetof(pdu::CapsuleCmd, sqe), sizeof(nvme::Sqe));
  capsule_slot_ = &s;
  capsule_data_len_ = received_data_length(*reinterpret_cast<const pdu::CommonHeader*>(header));
  if (capsule_data_len_ > 0) {  // bounded by in_capsule_limit() <= buffer size (check_header)
    // On an I/O queue, data that arrived whole with its header is lent where it lies (ControllerRequest::
    // data_borrowed): a 4 KiB write to RAM is then copied once, not twice.
    if (params_set_ && params_.qid != 0 && receiver_.whole_data_staged()) {
      sink.in_place = true;
      return Verdict::accept;
    }
    s.req.data = reactor_.buffers().get();
    s.data_iov = {s.req.data, capsule_data_len_};
    sink = {&s.data_iov, 1, 0};
  }
  return Verdict::accept;
}

Verdict TcpControllerQueue::accept_h2c_data(const std::uint8_t* header, DataSink& sink, FatalError& error) {
  pdu::H2CData h;
  std::memcpy(&h, header, sizeof h);
  if (auto e = check_data_pdu_length(h.ch, h.datal)) {
    error = *e;
    return Verdict::fatal;
  }
  // TTAG names the request (its pool index); it must be waiting for data and belong to the same command.
  // A command still waiting for its first R2T has no TTAG on the wire yet.
  if (h.ttag >= slots_.size() || slots_[h.ttag].state != SlotState::fetching || slots_[h.ttag].awaiting_r2t) {
    error = {pdu::TermFes::invalid_header_field, offsetof(pdu::H2CData, ttag)};
    return Verdict::fatal;
  }
  Slot& s = slots_[h.ttag];
  if (h.cccid != s.req.sqe.cid) {
    error = {pdu::TermFes::invalid_header_field, offsetof(pdu::H2CData, cccid)};
    return Verdict::fatal;
  }
  // Data for an R2T arrives in order (nvmet and SPDK enforce the same): DATAO continues where the last PDU
  // stopped, and the PDU stays inside the R2T window that contains DATAO.
  if (h.datao != s.h2c_received) {
    error = {pdu::TermFes::data_transfer_out_of_range, offsetof(pdu::H2CData, datao)};
    return Verdict::fatal;
  }
  const std::uint32_t window_start = h.datao / max_h2c_data_ * max_h2c_data_;
  const std::uint32_t window_end = std::min(window_start + max_h2c_data_, s.req.data_length);
  if (std::uint64_t(h.datao) + h.datal > window_end || window_end > s.r2t_issued) {
    error = {pdu::TermFes::data_transfer_out_of_range, offsetof(pdu::H2CData, datal)};
    return Verdict::fatal;
  }
  // LAST_PDU marks exactly the PDU that ends the R2T's window (NVMe/TCP 3.6.2.7).
  const bool ends_window = h.datao + h.datal == window_end;
  if (ends_window != ((h.ch.flags & pdu::kFlagLastPdu) != 0)) {
    error = {pdu::TermFes::invalid_header_field, offsetof(pdu::CommonHeader, flags)};
    return Verdict::fatal;
  }
  sink = {&s.data_iov, 1, h.datao};
  return Verdict::accept;
}

void TcpControllerQueue::on_pdu(const std::uint8_t* header, bool data_digest_ok) {
  const auto& ch = *reinterpret_cast<const pdu::CommonHeader*>(header);
  switch (ch.pdu_type) {
    case PduType::ic_req: handle_ic_req(header); break;
    case PduType::capsule_cmd: handle_capsule(data_digest_ok); break;
    case PduType::h2c_data: handle_h2c_data(header, data_digest_ok); break;
    case PduType::h2c_term_req: {
      pdu::TermReq t;
      std::memcpy(&t, header, sizeof t);
      NVMF_LOG(warn, "tcp: %s sent H2CTermReq: %s (FES %02Xh, FEI %u)", peer_.c_str(),
               fes_name(static_cast<pdu::TermFes>(t.fes)), static_cast<unsigned>(t.fes), term_req_fei(t));
      teardown("host sent H2CTermReq");
      break;
    }
    default: break;  // check_header admits nothing else
  }
}

void TcpControllerQueue::handle_ic_req(const std::uint8_t* header) {
  pdu::IcReq req;
  std::memcpy(&req, header, sizeof req);
  if (auto e = check_ic_req(req)) {
    terminate(*e, header, sizeof req);
    return;
  }
  hpda_ = req.hpda;
  digests_ = Digests::from_bits(req.dgst);  // echo what the host asked: we support both digests
  max_r2t_outstanding_ = static_cast<std::uint32_t>(
      std::min<std::uint64_t>(std::uint64_t(req.maxr2t) + 1, kMaxR2tPerCommand));
  connected_ = true;
  // CPDA 0: the Linux host rejects any other value when its HPDA is 0. ICResp never carries digests.
  ic_resp_ = build_ic_resp(0, digests_.dgst_bits(), max_h2c_data_);
  ic_resp_pdu_.set(PduLayout{sizeof ic_resp_, 0, 0, sizeof ic_resp_}, nullptr, 0, 0, 0, false);
  ic_resp_pdu_.head = reinterpret_cast<const std::uint8_t*>(&ic_resp_);
  ic_resp_pdu_.tag = kTagIcResp;
  sender_.enqueue(ic_resp_pdu_);
}

void TcpControllerQueue::handle_capsule(bool data_digest_ok) {
  Slot& s = *capsule_slot_;
  capsule_slot_ = nullptr;
  ControllerRequest& req = s.req;
  // SQHD advances per command taken from the submission queue (NVMe base 4.6); before Connect finished the
  // queue has no size yet and counts from 0.
  const std::uint16_t depth = params_set_ ? params_.depth : static_cast<std::uint16_t>(slots_.size());
  sqhd_ = static_cast<std::uint16_t>((sqhd_ + 1) % depth);

  CommandData cd = parse_command_data(req.sqe, capsule_data_len_, max_io_size_);
  req.direction = cd.direction;
  if (!data_digest_ok) {
    // Not fatal: the command completes with Transient Transport Error (see finish_fetch).
    NVMF_LOG(warn, "tcp: data digest error in CapsuleCmd from %s (CID %u)", peer_.c_str(), req.sqe.cid);
    cd.status = nvme::Status::make(NVME_SCT_GENERIC, NVME_SC_TRAN_TPORT_ERROR);
  }
  if (!cd.status.ok()) {  // answered here: the handler never sees a command whose data cannot be located
    req.data_length = 0;
    req.set_status(cd.status);
    s.state = SlotState::completing;
    send_completion(s);
    return;
  }
  req.data_length = cd.length;
  s.sgl_length = cd.length;
  req.data_ready = cd.in_capsule;
  if (const std::uint8_t* staged = receiver_.in_place_data(); capsule_data_len_ > 0 && staged) {
    req.data = reinterpret_cast<std::byte*>(const_cast<std::uint8_t*>(staged));
    req.data_borrowed = true;
    s.data_iov = {req.data, capsule_data_len_};
    if (!cd.in_capsule) keep_data(req);  // only a command's own in-capsule data is lent; stray bytes get a buffer
  }
  if (cd.length > 0 && !req.data) req.data = reactor_.buffers().get();
  if (req.data && !req.data_borrowed) s.data_iov = {req.data, std::max<std::size_t>(cd.length, capsule_data_len_)};
  s.state = SlotState::with_handler;
  handler_->on_command(req);
  // The handler finished with borrowed data inside on_command, or kept a copy (keep_data): the staging bytes
  // are reused by the next recv.
  assert(!(s.state == SlotState::with_handler && req.data_borrowed));
}

void TcpControllerQueue::handle_h2c_data(const std::uint8_t* header, bool data_digest_ok) {
  pdu::H2CData h;
  std::memcpy(&h, header, sizeof h);
  Slot& s = slots_[h.ttag];
  s.h2c_received += h.datal;
  if (!data_digest_ok) {
    NVMF_LOG(warn, "tcp: data digest error in H2CData from %s (CID %u)", peer_.c_str(), s.req.sqe.cid);
    s.data_error = true;
  }
  if (h.ch.flags & pdu::kFlagLastPdu) --s.r2t_outstanding;
  if (s.h2c_received == s.req.data_length) {
    finish_fetch(s);
    return;
  }
  issue_r2ts(s);
}

void TcpControllerQueue::on_protocol_error(const FatalError& error, const std::uint8_t* header, std::size_t len) {
  terminate(error, header, len);
}

void TcpControllerQueue::on_connection_lost(int error, bool mid_pdu) {
  if (terminating_) return;  // our own shutdown(SHUT_RD) after a TermReq
  if (mid_pdu)
    NVMF_LOG(warn, "tcp: %s closed the connection in the middle of a PDU", peer_.c_str());
  teardown(error ? std::strerror(error) : "peer closed");
}

}  // namespace nvmf::fabric::tcp
