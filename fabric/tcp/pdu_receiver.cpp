#include "fabric/tcp/pdu_receiver.hpp"

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>

#include "fabric/reactor.hpp"
#include "fabric/tls/record_stream.hpp"
#include "nvme/crc32c.hpp"

namespace nvmf::fabric::tcp {

namespace {
/// Copy `len` bytes into bytes [offset, ...) of a scatter list.
void copy_to_iov(const iovec* iov, std::uint32_t iovcnt, std::size_t offset, const std::uint8_t* src,
                 std::size_t len) {
  for (std::uint32_t i = 0; i < iovcnt && len > 0; ++i) {
    if (offset >= iov[i].iov_len) {
      offset -= iov[i].iov_len;
      continue;
    }
    std::size_t n = std::min(iov[i].iov_len - offset, len);
    std::memcpy(static_cast<std::uint8_t*>(iov[i].iov_base) + offset, src, n);
    src += n;
    len -= n;
    offset = 0;
  }
}
}  // namespace

PduReceiver::PduReceiver(Reactor& reactor, int fd, Owner& owner, std::size_t staging_size,
                         tls::RecordStream* records)
    : reactor_(reactor),
      fd_(fd),
      records_(records),
      owner_(owner),
      staging_(staging_size) {
  op_.handler = &PduReceiver::on_recv;
}

void PduReceiver::start() { process(); }

void PduReceiver::resume() {
  if (state_ != State::dispatch || !stalled_) return;
  stalled_ = false;
  process();  // a recv may be in flight into the staging buffer: arm_staging() does not arm a second one
}

void PduReceiver::stop() {
  state_ = State::stopped;
  stalled_ = false;
}

void PduReceiver::process() {
  if (processing_) return;  // an owner callback re-entered; the outer loop continues
  processing_ = true;
  advance();
  processing_ = false;
}

bool PduReceiver::fill(std::uint8_t* dst, std::uint32_t& filled, std::uint32_t want) {
  std::size_t n = std::min<std::size_t>(want - filled, staged());
  std::memcpy(dst + filled, staging_.data() + stage_pos_, n);
  stage_pos_ += n;
  filled += static_cast<std::uint32_t>(n);
  return filled == want;
}

void PduReceiver::fail(const FatalError& error, std::size_t len) {
  state_ = State::stopped;
  owner_.on_protocol_error(error, hdr_, len);
}

void PduReceiver::finish_pdu(bool digest_ok) {
  if (data_len_ < kDirectThreshold) bulk_stream_ = false;  // small PDUs again: batch them in full recvs
  state_ = State::common_header;
  hdr_filled_ = 0;
  ddgst_filled_ = 0;
  owner_.on_pdu(hdr_, digest_ok);
}

bool PduReceiver::whole_data_staged() const {
  const std::size_t rest = received_pad_length(common()) + received_data_length(common()) +
                           (has_data_digest(common()) ? pdu::kDigestSize : 0);
  return staged() >= rest;
}

void PduReceiver::consume_data() {
  std::size_t n = std::min<std::size_t>(data_len_ - data_done_, staged());
  if (n == 0) return;
  const std::uint8_t* src = staging_.data() + stage_pos_;
  if (sink_.in_place)
    in_place_data_ = src;  // all of it (whole_data_staged), so this is the one call for this PDU
  else if (sink_.iov)
    copy_to_iov(sink_.iov, sink_.iovcnt, sink_.offset + data_done_, src, n);
  if (ddgst_on_) ddgst_state_ = nvme::crc32c_update(ddgst_state_, src, n);  // the bytes the copy just read
  stage_pos_ += n;
  data_done_ += static_cast<std::uint32_t>(n);
}

void PduReceiver::advance() {
  for (;;) {
    switch (state_) {
      case State::stopped: return;
      case State::common_header: {
        if (!fill(hdr_, hdr_filled_, sizeof(pdu::CommonHeader))) return arm_staging();
        if (auto e = owner_.check_header(common())) return fail(*e, sizeof(pdu::CommonHeader));
        if (state_ == State::stopped) return;
        header_len_ = received_header_length(common());
        state_ = State::header_rest;
        break;
      }
      case State::header_rest: {
        if (!fill(hdr_, hdr_filled_, header_len_)) return arm_staging();
        const auto& ch = common();
        // FEI is reserved (0) for a header digest error: the whole header is suspect.
        if ((ch.flags & pdu::kFlagHdgst) && !header_digest_ok(hdr_, ch.hlen))
          return fail({pdu::TermFes::header_digest_error, 0}, header_len_);
        state_ = State::dispatch;
        break;
      }
      case State::dispatch: {
        sink_ = {};
        FatalError error{};
        Verdict v = owner_.on_header(hdr_, sink_, error);
        if (state_ == State::stopped) return;
        if (v == Verdict::stall) {
          // Keep reading into the staging buffer while there is room, so a peer that goes away is noticed;
          // once it is full, TCP flow control holds the host back.
          stalled_ = true;
          return arm_staging();
        }
        if (v == Verdict::fatal) return fail(error, header_len_);
        pad_left_ = received_pad_length(common());
        data_len_ = received_data_length(common());
        data_done_ = 0;
        // Discarded data is not checked (the owner already failed the command).
        ddgst_on_ = (sink_.iov || sink_.in_place) && has_data_digest(common());
        in_place_data_ = nullptr;
        ddgst_state_ = nvme::kCrc32cSeed;
        state_ = State::padding;
        break;
      }
      case State::padding: {
        std::size_t n = std::min<std::size_t>(pad_left_, staged());
        stage_pos_ += n;
        pad_left_ -= static_cast<std::uint32_t>(n);
        if (pad_left_ > 0) return arm_staging();
        state_ = State::data;
        break;
      }
      case State::data: {
        consume_data();
        if (data_done_ < data_len_) {
          assert(!sink_.in_place);  // the owner asks for it only when whole_data_staged()
          if (sink_.iov && data_len_ - data_done_ >= kDirectThreshold) return arm_direct();
          return arm_staging();
        }
        state_ = State::data_digest;
        break;
      }
      case State::data_digest: {
        if (!has_data_digest(common())) {
          finish_pdu(true);
          break;
        }
        if (!fill(ddgst_, ddgst_filled_, pdu::kDigestSize)) return arm_staging();
        finish_pdu(!ddgst_on_ || get_le32(ddgst_) == nvme::crc32c_finish(ddgst_state_));
        break;
      }
    }
  }
}

void PduReceiver::arm_staging() {
  if (in_flight_) return;
  if (stage_pos_ == stage_end_) stage_pos_ = stage_end_ = 0;
  if (stage_pos_ > 0) {  // keep unread bytes at the front (not reached in practice: we consume all first)
    std::memmove(staging_.data(), staging_.data() + stage_pos_, staged());
    stage_end_ -= stage_pos_;
    stage_pos_ = 0;
  }
  if (stage_end_ == staging_size()) return;  // full (only while stalled): resume() consumes it
  direct_ = false;
  in_flight_ = true;
  std::size_t room = staging_size() - stage_end_;
  if (bulk_stream_) room = std::min(room, kBulkStreamRecv);
  if (records_) {
    stage_iov_ = {staging_.data() + stage_end_, room};
    return records_->recv(&stage_iov_, 1, op_);
  }
  io_uring_prep_recv(reactor_.sqe(op_), fd_, staging_.data() + stage_end_, room, 0);
}

void PduReceiver::arm_direct() {
  if (in_flight_) return;
  // Describe the rest of this PDU's data in the sink: the kernel copies straight into the destination.
  std::size_t offset = sink_.offset + data_done_;
  std::size_t len = data_len_ - data_done_;
  unsigned n = 0;
  for (std::uint32_t i = 0; i < sink_.iovcnt && len > 0 && n < kMaxDirectIov; ++i) {
    if (offset >= sink_.iov[i].iov_len) {
      offset -= sink_.iov[i].iov_len;
      continue;
    }
    std::size_t take = std::min(sink_.iov[i].iov_len - offset, len);
    direct_iov_[n++] = {static_cast<std::uint8_t*>(sink_.iov[i].iov_base) + offset, take};
    len -= take;
    offset = 0;
  }
  msg_ = {};
  msg_.msg_iov = direct_iov_;
  msg_.msg_iovlen = n;
  direct_iovcnt_ = n;
  direct_ = true;
  bulk_stream_ = true;
  in_flight_ = true;
  if (records_) return records_->recv(direct_iov_, n, op_);
  // MSG_WAITALL: io_uring keeps receiving until the rest of this PDU's data is in (5.18+; older kernels return
  // what is there, and we re-arm). One completion per 128 KiB PDU instead of one per socket wake-up.
  io_uring_prep_recvmsg(reactor_.sqe(op_), fd_, &msg_, MSG_WAITALL);
}

void PduReceiver::on_recv(IoOp& op, std::int32_t res, std::uint32_t) {
  auto& self = owner_of(&PduReceiver::op_, op);
  self.in_flight_ = false;
  if (self.state_ == State::stopped) {
    self.owner_.on_receiver_idle();
    return;
  }
  if (res == -EINTR || res == -EAGAIN || res == -ENOBUFS) {
    self.process();
    return;
  }
  if (res <= 0) {
    bool mid_pdu = self.state_ != State::common_header || self.hdr_filled_ > 0 || self.staged() > 0;
    self.state_ = State::stopped;
    self.owner_.on_connection_lost(res == 0 ? 0 : -res, mid_pdu);
    return;
  }
  if (self.direct_) {
    // The kernel filled the first `res` bytes of direct_iov_: fold them into the digest while they are hot.
    if (self.ddgst_on_)
      self.ddgst_state_ = data_digest_update(self.ddgst_state_, self.direct_iov_, self.direct_iovcnt_, 0,
                                             static_cast<std::size_t>(res));
    self.data_done_ += static_cast<std::uint32_t>(res);
  } else {
    self.stage_end_ += static_cast<std::size_t>(res);
  }
  self.process();
}

}  // namespace nvmf::fabric::tcp
