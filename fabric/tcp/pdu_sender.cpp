#include "fabric/tcp/pdu_sender.hpp"

#include <algorithm>
#include <cerrno>

#include "fabric/reactor.hpp"
#include "fabric/tls/record_stream.hpp"

namespace nvmf::fabric::tcp {

namespace {
const std::uint8_t kZeros[128] = {};  // padding source: PDA is at most 32 dwords

/// Append the part [skip, skip + len) of a scatter list to `out`; returns entries written.
unsigned append_range(iovec* out, unsigned room, const iovec* iov, std::uint32_t iovcnt, std::size_t offset,
                      std::size_t len) {
  unsigned n = 0;
  for (std::uint32_t i = 0; i < iovcnt && len > 0 && n < room; ++i) {
    if (offset >= iov[i].iov_len) {
      offset -= iov[i].iov_len;
      continue;
    }
    std::size_t take = std::min(iov[i].iov_len - offset, len);
    out[n++] = {static_cast<std::uint8_t*>(iov[i].iov_base) + offset, take};
    len -= take;
    offset = 0;
  }
  return n;
}
}  // namespace

void OutPdu::set(const PduLayout& layout, const iovec* iov, std::uint32_t iovcnt, std::size_t offset,
                 std::uint32_t len, bool data_digest) {
  head_len = layout.header_len;
  pad_len = layout.pad_len;
  data_iov = iov;
  data_iovcnt = iovcnt;
  data_offset = offset;
  data_len = len;
  has_ddgst = data_digest && len > 0;
  if (has_ddgst) put_le32(ddgst, tcp::data_digest(iov, iovcnt, offset, len));
  sent = 0;
  next = nullptr;
}

PduSender::PduSender(Reactor& reactor, int fd, Owner& owner, tls::RecordStream* records)
    : reactor_(reactor), fd_(fd), records_(records), owner_(owner) {
  op_.handler = &PduSender::on_send_done;
}

void PduSender::enqueue(OutPdu& pdu) {
  pdu.next = nullptr;
  pdu.sent = 0;
  if (aborted_) {
    owner_.on_pdu_released(pdu, false);
    return;
  }
  if (tail_)
    tail_->next = &pdu;
  else
    head_ = &pdu;
  tail_ = &pdu;
  if (!in_flight_) schedule_flush();
}

void PduSender::schedule_flush() {
  if (flush_scheduled_) return;
  flush_scheduled_ = true;
  reactor_.defer([this] {
    flush_scheduled_ = false;
    if (aborted_) {
      if (!in_flight_) owner_.on_sender_idle();
      return;
    }
    flush();
  });
}

// Walk the queue from the first unsent byte and describe as much as fits in iov_.
unsigned PduSender::build_iov() {
  unsigned n = 0;
  for (OutPdu* p = head_; p && n < kMaxIov; p = p->next) {
    std::uint64_t skip = p->sent;
    auto part = [&](const void* base, std::size_t len) {
      if (n >= kMaxIov || len == 0) return;
      if (skip >= len) {
        skip -= len;
        return;
      }
      iov_[n++] = {const_cast<std::uint8_t*>(static_cast<const std::uint8_t*>(base)) + skip, len - skip};
      skip = 0;
    };
    part(p->head, p->head_len);
    part(kZeros, p->pad_len);
    if (p->data_len > 0 && n < kMaxIov) {
      std::size_t data_skip = std::min<std::uint64_t>(skip, p->data_len);
      skip -= data_skip;
      n += append_range(iov_ + n, kMaxIov - n, p->data_iov, p->data_iovcnt, p->data_offset + data_skip,
                        p->data_len - data_skip);
    }
    if (p->has_ddgst) part(p->ddgst, pdu::kDigestSize);
  }
  return n;
}

void PduSender::flush() {
  if (in_flight_ || aborted_ || !head_) return;
  unsigned n = build_iov();
  in_flight_ = true;
  ++sends_;
  if (records_) return records_->send(iov_, n, op_);
  msg_ = {};
  msg_.msg_iov = iov_;
  msg_.msg_iovlen = n;
  io_uring_prep_sendmsg(reactor_.sqe(op_), fd_, &msg_, MSG_NOSIGNAL);
}

void PduSender::release_all() {
  while (head_) {
    OutPdu* p = head_;
    head_ = p->next;
    if (!head_) tail_ = nullptr;
    p->next = nullptr;
    owner_.on_pdu_released(*p, false);
  }
}

void PduSender::abort() {
  if (aborted_) return;
  aborted_ = true;
  if (!in_flight_) {  // otherwise the kernel may still read the buffers: release when the send completes
    release_all();
    if (!flush_scheduled_) owner_.on_sender_idle();
  }
}

void PduSender::on_send_done(IoOp& op, std::int32_t res, std::uint32_t) {
  auto& self = owner_of(&PduSender::op_, op);
  self.in_flight_ = false;
  if (self.aborted_) {
    self.release_all();
    if (!self.flush_scheduled_) self.owner_.on_sender_idle();
    return;
  }
  if (res == -EINTR || res == -EAGAIN) {
    self.flush();
    return;
  }
  if (res <= 0) {
    self.aborted_ = true;
    self.release_all();
    self.owner_.on_send_error(res == 0 ? EPIPE : -res);
    if (self.idle()) self.owner_.on_sender_idle();
    return;
  }
  auto done = static_cast<std::uint64_t>(res);
  while (done > 0 && self.head_) {
    OutPdu* p = self.head_;
    std::uint64_t left = p->total() - p->sent;
    if (done < left) {
      p->sent += done;
      break;
    }
    done -= left;
    self.head_ = p->next;
    if (!self.head_) self.tail_ = nullptr;
    p->next = nullptr;
    self.owner_.on_pdu_released(*p, true);
    if (self.aborted_) break;  // the owner tore the connection down from the callback
  }
  if (self.aborted_) {
    self.release_all();
    if (self.idle()) self.owner_.on_sender_idle();
    return;
  }
  if (self.head_) self.flush();
}

}  // namespace nvmf::fabric::tcp
