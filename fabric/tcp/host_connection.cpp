#include "fabric/tcp/host_connection.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include "fabric/host_status.hpp"
#include "fabric/log.hpp"
#include "fabric/tcp/socket_address.hpp"
#include "fabric/tls/tls_channel.hpp"

namespace nvmf::fabric::tcp {

using pdu::PduType;
using Verdict = PduReceiver::Verdict;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {
// One recv takes in up to this much: a 4 KiB read's C2HData is 4120 bytes, so one recv (one io_uring
// operation) carries many completions, and at QD 128 it empties the socket, whose queued bytes would go cold
// (docs/performance.md). Its pages are committed only as recvs reach them.
constexpr std::size_t kStagingSize = 256 * 1024;
std::uint32_t make_tag(std::uint16_t cid, std::uint32_t kind) { return std::uint32_t(cid) << 2 | kind; }

struct ConnectOp {
  IoOp op;
  int res = 0;
  bool done = false;
};
}  // namespace

HostConnection::HostConnection(Reactor& reactor, int fd, const HostQueueOptions& options,
                               std::unique_ptr<tls::RecordStream> records)
    : reactor_(reactor),
      fd_(fd),
      records_(std::move(records)),
      receiver_(reactor, fd, *this, kStagingSize, records_.get()),
      sender_(reactor, fd, *this, records_.get()),
      slots_(std::max<std::uint16_t>(options.queue_depth, 1)) {
  free_cids_.reserve(slots_.size());
  for (std::size_t i = slots_.size(); i-- > 0;) free_cids_.push_back(static_cast<std::uint16_t>(i));
  requested_dgst_ = Digests{options.header_digest, options.data_digest}.dgst_bits();
}

HostConnection::~HostConnection() {
  if (fd_ >= 0) ::close(fd_);
}

HostConnection* HostConnection::open(Reactor& reactor, const HostQueueOptions& options, std::string* error) {
  const std::string where = "tcp:" + options.traddr + ":" + options.trsvcid;
  auto failed = [&](const std::string& why) {
    if (error) *error = where + ": " + why;
    return nullptr;
  };
  SocketAddress sa;
  std::string why;
  if (!parse_socket_address(options.traddr, options.trsvcid, &sa, &why)) return failed(why);
  int fd = ::socket(sa.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return failed(std::string("socket: ") + std::strerror(errno));

  // Connect through the ring so the timeout holds while this thread drives the reactor.
  const auto deadline = Clock::now() + options.connect_timeout;
  ConnectOp c;
  c.op.handler = [](IoOp& op, std::int32_t res, std::uint32_t) {
    auto& self = owner_of(&ConnectOp::op, op);
    self.res = res;
    self.done = true;
  };
  io_uring_prep_connect(reactor.sqe(c.op), fd, sa.get(), sa.length);
  while (!c.done && Clock::now() < deadline)
    reactor.run_once(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()) + 1ms);
  if (!c.done) {
    io_uring_prep_cancel(reactor.sqe_ignored(), &c.op, 0);
    ::shutdown(fd, SHUT_RDWR);
    while (!c.done) reactor.run_once(10ms);
    ::close(fd);
    return failed("connect timed out after " + std::to_string(options.connect_timeout.count()) + " ms");
  }
  if (c.res < 0) {
    ::close(fd);
    return failed(std::string("connect: ") + std::strerror(-c.res));
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  std::unique_ptr<tls::RecordStream> records;
  if (options.tls) {
    // TLS 1.3 handshake before the ICReq (NVMe/TCP 3.6.1.1); the PDU code then goes through the kernel's record
    // layer on the socket or through the user-space one.
    struct Outcome {
      bool done = false;
      int fd = -1;
      std::string why;
      std::unique_ptr<tls::RecordStream> records;
    };
    auto outcome = std::make_shared<Outcome>();
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    tls::connect_tls(reactor, fd, where, options.tls, std::max(left, std::chrono::milliseconds(1)),
                     [outcome](int tcp_fd, const std::string& why, const std::string&,
                               std::unique_ptr<tls::RecordStream> user_records) {
                       outcome->done = true;
                       outcome->fd = tcp_fd;
                       outcome->why = why;
                       outcome->records = std::move(user_records);
                     });
    while (!outcome->done) reactor.run_once(10ms);
    if (outcome->fd < 0) return failed("TLS: " + outcome->why);
    fd = outcome->fd;
    records = std::move(outcome->records);
  }
  auto* conn = open_connected(reactor, fd, options,
                              std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()), &why,
                              std::move(records));
  if (!conn) return failed(why);
  NVMF_LOG(debug, "tcp: host queue connected to %s (hdgst %d, ddgst %d, MAXH2CDATA %u)", where.c_str(),
           conn->negotiated_.digests.header, conn->negotiated_.digests.data, conn->negotiated_.max_h2c_data);
  return conn;
}

HostConnection* HostConnection::open_connected(Reactor& reactor, int fd, const HostQueueOptions& options,
                                               std::chrono::milliseconds timeout, std::string* error,
                                               std::unique_ptr<tls::RecordStream> records) {
  auto* conn = new HostConnection(reactor, fd, options, std::move(records));
  std::string why;
  if (conn->wait_connected(timeout, &why)) return conn;
  // Nothing of the caller's is in flight yet: tear down here, driving the reactor until the ring let go of us.
  conn->close(host_path_error(), why);  // released_ stays false: end_of_turn leaves the deletion to us
  while (conn->receiver_.busy() || !conn->sender_.idle() || conn->turn_scheduled_) reactor.run_once(10ms);
  delete conn;
  if (error) *error = why;
  return nullptr;
}

bool HostConnection::wait_connected(std::chrono::milliseconds timeout, std::string* error) {
  // HPDA 0 and MAXR2T 0 (one R2T per command at a time), as the Linux host sends.
  ic_req_ = build_ic_req(0, requested_dgst_, 0);
  ic_req_pdu_.set(PduLayout{sizeof ic_req_, 0, 0, sizeof ic_req_}, nullptr, 0, 0, 0, false);
  ic_req_pdu_.head = reinterpret_cast<const std::uint8_t*>(&ic_req_);
  ic_req_pdu_.tag = kTagIcReq;
  sender_.enqueue(ic_req_pdu_);
  receiver_.start();
  const auto deadline = Clock::now() + timeout;
  while (!connected_ && alive_ && Clock::now() < deadline)
    reactor_.run_once(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()) + 1ms);
  if (connected_) return true;
  *error = !connect_error_.empty() ? connect_error_
           : !alive_               ? error_.message
                                   : "no ICResp within " + std::to_string(timeout.count()) + " ms";
  return false;
}

void HostConnection::handle_ic_resp(const std::uint8_t* header) {
  pdu::IcResp r;
  std::memcpy(&r, header, sizeof r);
  std::string bad;
  if (r.pfv != 0)
    bad = "ICResp PFV " + std::to_string(r.pfv) + " is not 0";
  else if (r.cpda > kMaxPda)
    bad = "ICResp CPDA " + std::to_string(r.cpda) + " exceeds 31";
  else if (r.dgst != requested_dgst_)
    bad = "ICResp digests " + std::to_string(r.dgst) + " differ from those asked for (" +
          std::to_string(requested_dgst_) + ")";
  else if (r.maxh2cdata < 4096 || r.maxh2cdata % 4 != 0)
    bad = "ICResp MAXH2CDATA " + std::to_string(r.maxh2cdata) + " is below 4096 or not a multiple of 4";
  if (!bad.empty()) {
    connect_error_ = bad;
    close(host_path_error(), bad);
    return;
  }
  negotiated_.digests = Digests::from_bits(r.dgst);
  negotiated_.max_h2c_data = r.maxh2cdata;
  negotiated_.cpda = r.cpda;
  connected_ = true;
}

bool HostConnection::submit(HostRequest& req) {
  if (!alive_ || !connected_ || free_cids_.empty()) return false;
  std::uint64_t length = 0;
  for (std::uint32_t i = 0; i < req.iovcnt; ++i) length += req.iov[i].iov_len;
  if (length > std::numeric_limits<std::uint32_t>::max()) return false;
  const std::uint16_t cid = free_cids_.back();
  free_cids_.pop_back();
  ++outstanding_;
  Slot& s = slots_[cid];
  static_cast<SlotProgress&>(s) = SlotProgress{};
  s.req = &req;
  s.state = SlotState::active;
  s.length = static_cast<std::uint32_t>(length);
  s.in_capsule = req.direction == DataDirection::host_to_controller && length > 0 && length <= in_capsule_limit_;

  req.cqe = {};
  req.sqe.cid = cid;
  req.sqe.flags = static_cast<std::uint8_t>((req.sqe.flags & ~nvme::kPsdtMask) | nvme::kPsdtSgl);
  nvme::SglDescriptor& sgl = req.sqe.dptr;
  sgl = {};
  sgl.length = req.direction == DataDirection::none ? 0 : s.length;
  sgl.id = s.in_capsule ? nvme::SglDescriptor::make_id(nvme::SglType::data_block, nvme::SglSubtype::offset)
                        : nvme::SglDescriptor::make_id(nvme::SglType::transport_data_block,
                                                       nvme::SglSubtype::transport_specific);
  const std::uint32_t capsule_data = s.in_capsule ? s.length : 0;
  s.cmd.head = s.cmd.storage;
  s.cmd.set(build_capsule_cmd(s.cmd.storage, req.sqe, negotiated_.digests, capsule_data, pda_bytes(negotiated_.cpda)),
            req.iov, req.iovcnt, 0, capsule_data, negotiated_.digests.data);
  s.cmd.tag = make_tag(cid, kTagCmd);
  s.cmd_in_sender = true;
  sender_.enqueue(s.cmd);
  return true;
}

HostConnection::Slot* HostConnection::active_slot(std::uint16_t cid, DataDirection direction) {
  if (cid >= slots_.size()) return nullptr;
  Slot& s = slots_[cid];
  if (s.state != SlotState::active || s.req->direction != direction) return nullptr;
  return &s;
}

std::optional<FatalError> HostConnection::check_header(const pdu::CommonHeader& ch) {
  ReceiveRules rules;
  rules.role = Role::host;
  rules.connected = connected_;
  rules.digests = negotiated_.digests;
  rules.alignment = pda_bytes(0);  // our HPDA
  rules.max_data_pdu = std::numeric_limits<std::uint32_t>::max();  // bounded by the command instead
  return check_common_header(ch, rules);
}

Verdict HostConnection::on_header(const std::uint8_t* header, DataSink& sink, FatalError& error) {
  const auto& ch = *reinterpret_cast<const pdu::CommonHeader*>(header);
  switch (ch.pdu_type) {
    case PduType::r2t: return accept_r2t(header, error);
    case PduType::c2h_data: return accept_c2h(header, sink, error);
    case PduType::capsule_resp: {
      pdu::CapsuleResp r;
      std::memcpy(&r, header, sizeof r);
      if (r.cqe.cid >= slots_.size() || slots_[r.cqe.cid].state != SlotState::active) {
        error = {pdu::TermFes::invalid_header_field, offsetof(pdu::CapsuleResp, cqe) + offsetof(nvme::Cqe, cid)};
        return Verdict::fatal;
      }
      return Verdict::accept;
    }
    default: return Verdict::accept;
  }
}

Verdict HostConnection::accept_r2t(const std::uint8_t* header, FatalError& error) {
  pdu::R2T r;
  std::memcpy(&r, header, sizeof r);
  Slot* s = active_slot(r.cccid, DataDirection::host_to_controller);
  if (!s || s->in_capsule) {
    error = {pdu::TermFes::invalid_header_field, offsetof(pdu::R2T, cccid)};
    return Verdict::fatal;
  }
  if (s->h2c_active) {  // we announced MAXR2T 0: one R2T per command at a time (FES 05h, R2T limit exceeded)
    error = {pdu::TermFes::data_transfer_limit_exceeded, 0};
    return Verdict::fatal;
  }
  if (r.r2to != s->r2t_expected) {
    error = {pdu::TermFes::data_transfer_out_of_range, offsetof(pdu::R2T, r2to)};
    return Verdict::fatal;
  }
  if (r.r2tl == 0 || std::uint64_t(r.r2to) + r.r2tl > s->length) {
    error = {pdu::TermFes::data_transfer_out_of_range, offsetof(pdu::R2T, r2tl)};
    return Verdict::fatal;
  }
  return Verdict::accept;
}

Verdict HostConnection::accept_c2h(const std::uint8_t* header, DataSink& sink, FatalError& error) {
  pdu::C2HData d;
  std::memcpy(&d, header, sizeof d);
  Slot* s = active_slot(d.cccid, DataDirection::controller_to_host);
  if (!s) {
    error = {pdu::TermFes::invalid_header_field, offsetof(pdu::C2HData, cccid)};
    return Verdict::fatal;
  }
  if (auto e = check_data_pdu_length(d.ch, d.datal)) {
    error = *e;
    return Verdict::fatal;
  }
  if (d.datao != s->c2h_received) {
    error = {pdu::TermFes::data_transfer_out_of_range, offsetof(pdu::C2HData, datao)};
    return Verdict::fatal;
  }
  if (std::uint64_t(d.datao) + d.datal > s->length) {
    error = {pdu::TermFes::data_transfer_out_of_range, offsetof(pdu::C2HData, datal)};
    return Verdict::fatal;
  }
  sink = {s->req->iov, s->req->iovcnt, d.datao};  // straight into the caller's buffers
  return Verdict::accept;
}

void HostConnection::on_pdu(const std::uint8_t* header, bool data_digest_ok) {
  const auto& ch = *reinterpret_cast<const pdu::CommonHeader*>(header);
  switch (ch.pdu_type) {
    case PduType::ic_resp: handle_ic_resp(header); break;
    case PduType::r2t: handle_r2t(header); break;
    case PduType::c2h_data: handle_c2h(header, data_digest_ok); break;
    case PduType::capsule_resp: handle_resp(header); break;
    case PduType::c2h_term_req: {
      pdu::TermReq t;
      std::memcpy(&t, header, sizeof t);
      std::string why = std::string("controller sent C2HTermReq: ") + fes_name(static_cast<pdu::TermFes>(t.fes)) +
                        " (FES " + std::to_string(t.fes) + ", FEI " + std::to_string(term_req_fei(t)) + ")";
      NVMF_LOG(warn, "tcp: %s", why.c_str());
      if (!connected_) connect_error_ = why;
      close(host_path_error(), why);
      break;
    }
    default: break;
  }
}

void HostConnection::handle_r2t(const std::uint8_t* header) {
  pdu::R2T r;
  std::memcpy(&r, header, sizeof r);
  Slot& s = slots_[r.cccid];
  s.h2c_active = true;
  s.ttag = r.ttag;
  s.h2c_next = r.r2to;
  s.r2t_end = r.r2to + r.r2tl;
  s.r2t_expected = s.r2t_end;
  send_next_h2c(s);
}

void HostConnection::send_next_h2c(Slot& s) {
  if (!alive_ || s.h2c_in_sender || !s.h2c_active) return;
  // One H2CData in the sender per command: the next one is built when it has left (MAXH2CDATA bounds each).
  const std::uint32_t len = std::min(negotiated_.max_h2c_data, s.r2t_end - s.h2c_next);
  const bool last = s.h2c_next + len == s.r2t_end;
  const auto cid = static_cast<std::uint16_t>(&s - slots_.data());
  s.h2c.head = s.h2c.storage;
  s.h2c.set(build_h2c_data(s.h2c.storage, cid, s.ttag, s.h2c_next, len, last, negotiated_.digests,
                           pda_bytes(negotiated_.cpda)),
            s.req->iov, s.req->iovcnt, s.h2c_next, len, negotiated_.digests.data);
  s.h2c.tag = make_tag(cid, kTagH2c);
  s.h2c_in_sender = true;
  s.h2c_next += len;
  if (last) s.h2c_active = false;
  sender_.enqueue(s.h2c);
}

void HostConnection::handle_c2h(const std::uint8_t* header, bool data_digest_ok) {
  pdu::C2HData d;
  std::memcpy(&d, header, sizeof d);
  Slot& s = slots_[d.cccid];
  s.c2h_received += d.datal;
  if (!data_digest_ok) {
    NVMF_LOG(warn, "tcp: data digest error in C2HData (CID %u)", d.cccid);
    s.data_error = true;
  }
  if (d.ch.flags & pdu::kFlagSuccess) {  // no CapsuleResp follows
    nvme::Cqe cqe{};
    cqe.cid = d.cccid;
    s.req->cqe = cqe;
    s.state = SlotState::done;
    s.final_status = s.data_error ? nvme::Status::make(NVME_SCT_GENERIC, NVME_SC_DATA_XFER_ERROR) : nvme::Status();
    try_complete(s);
  }
}

void HostConnection::handle_resp(const std::uint8_t* header) {
  pdu::CapsuleResp r;
  std::memcpy(&r, header, sizeof r);
  Slot& s = slots_[r.cqe.cid];
  s.req->cqe = r.cqe;
  s.final_status = r.cqe.get_status();
  // A read whose data failed its digest is not a success, whatever the controller thought (the Linux host
  // completes it with Data Transfer Error too).
  if (s.data_error && s.final_status.ok()) s.final_status = nvme::Status::make(NVME_SCT_GENERIC, NVME_SC_DATA_XFER_ERROR);
  s.state = SlotState::done;
  s.h2c_active = false;
  try_complete(s);
}

void HostConnection::try_complete(Slot& s) {
  // The caller's buffers are theirs again only once the sender has let go of them.
  if (s.state != SlotState::done || s.cmd_in_sender || s.h2c_in_sender) return;
  HostRequest* req = s.req;
  const auto cid = static_cast<std::uint16_t>(&s - slots_.data());
  req->cqe.set_status(s.final_status);
  s.state = SlotState::free;
  s.req = nullptr;
  free_cids_.push_back(cid);
  --outstanding_;
  if (req->on_complete) req->on_complete(*req);
}

void HostConnection::on_pdu_released(OutPdu& p, bool sent) {
  const std::uint32_t kind = p.tag & 3;
  if (kind == kTagIcReq) return;
  if (kind == kTagTermReq) {
    close(host_path_error(), error_.message);
    return;
  }
  Slot& s = slots_[p.tag >> 2];
  if (kind == kTagCmd) s.cmd_in_sender = false;
  if (kind == kTagH2c) {
    s.h2c_in_sender = false;
    if (sent) send_next_h2c(s);
  }
  try_complete(s);
}

void HostConnection::on_send_error(int error) {
  close(host_path_error(), std::string("send failed: ") + std::strerror(error));
}

void HostConnection::on_protocol_error(const FatalError& error, const std::uint8_t* header, std::size_t len) {
  fail_with_term_req(error, header, len);
}

void HostConnection::fail_with_term_req(const FatalError& error, const std::uint8_t* header, std::size_t len) {
  std::string why = std::string("malformed PDU from the controller (type ") + std::to_string(header[0]) +
                    "): " + fes_name(error.fes) + " at byte " + std::to_string(error.fei);
  NVMF_LOG(warn, "tcp: %s; sending H2CTermReq", why.c_str());
  if (!connected_) connect_error_ = why;
  receiver_.stop();
  error_.message = why;
  std::uint32_t plen = build_term_req(term_buf_, PduType::h2c_term_req, error, header, len);
  term_pdu_.set(PduLayout{plen, 0, 0, plen}, nullptr, 0, 0, 0, false);
  term_pdu_.head = term_buf_;
  term_pdu_.tag = kTagTermReq;
  sender_.enqueue(term_pdu_);
  // The queue is dead now: fail what is outstanding (those the sender still references complete on release).
  alive_ = false;
  ::shutdown(fd_, SHUT_RD);
  for (Slot& s : slots_) {
    if (s.state != SlotState::active) continue;
    s.state = SlotState::done;
    s.h2c_active = false;
    s.req->cqe = {};
    s.req->cqe.cid = static_cast<std::uint16_t>(&s - slots_.data());
    s.final_status = host_path_error();
    try_complete(s);
  }
}

void HostConnection::on_connection_lost(int error, bool) {
  close(host_path_error(),
        error ? std::string("connection lost: ") + std::strerror(error) : "controller closed the connection");
}

void HostConnection::close(nvme::Status status, const std::string& why) {
  const bool was_alive = alive_;
  alive_ = false;
  if (was_alive || error_.message.empty()) error_.message = why;
  receiver_.stop();
  ::shutdown(fd_, SHUT_RDWR);
  sender_.abort();
  for (Slot& s : slots_) {
    if (s.state != SlotState::active) continue;
    s.state = SlotState::done;
    s.h2c_active = false;
    s.req->cqe = {};
    s.req->cqe.cid = static_cast<std::uint16_t>(&s - slots_.data());
    s.final_status = status;
    try_complete(s);
  }
  schedule_turn();
}

void HostConnection::release() {
  close(host_aborted(), "queue closed by the host");
  if (Reactor::current() != &reactor_) {
    // Not inside one of the reactor's turns (the thread that drives it with run_once, between calls): drain the
    // ring's hold on us now, so nothing is left behind if the reactor is never driven again.
    const auto deadline = Clock::now() + 2s;
    while ((receiver_.busy() || !sender_.idle() || turn_scheduled_) && Clock::now() < deadline)
      reactor_.run_once(10ms);
    if (!receiver_.busy() && sender_.idle() && !turn_scheduled_) {
      delete this;
      return;
    }
  }
  released_ = true;  // inside a turn: end_of_turn() deletes us once idle
  schedule_turn();
}

void HostConnection::schedule_turn() {
  if (turn_scheduled_) return;
  turn_scheduled_ = true;
  reactor_.defer([this] {
    turn_scheduled_ = false;
    end_of_turn();
  });
}

void HostConnection::end_of_turn() {
  if (released_ && !turn_scheduled_ && !receiver_.busy() && sender_.idle()) delete this;
}

}  // namespace nvmf::fabric::tcp
