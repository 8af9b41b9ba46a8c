// The send side of one NVMe/TCP connection, shared by both roles. PDUs queued during a reactor turn go out
// together at the end of the turn in one sendmsg (io_uring) whose iovecs point at the pooled PDU headers and the
// data buffers themselves: no copy of data, no allocation per I/O. A short send resumes where it stopped.
// One sendmsg is in flight at a time, which keeps the byte stream in queue order. Over user-space TLS the same
// scatter list goes to the connection's RecordStream, which packs it into as few records as it can.
#pragma once
#include <sys/socket.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>

#include "fabric/io_op.hpp"
#include "fabric/tcp/codec.hpp"

namespace nvmf::fabric {
class Reactor;
}
namespace nvmf::fabric::tls {
class RecordStream;
}

namespace nvmf::fabric::tcp {

/// One outgoing PDU: header (+ header digest) in `head`, zero padding, data described by a scatter list range,
/// data digest. Owned by whoever queues it (a request's pool entry, a queue); must stay put until released.
struct OutPdu {
  alignas(8) std::uint8_t storage[kMaxDigestedHeader]{};  ///< Inline header storage (CapsuleCmd + digest fits)
  const std::uint8_t* head = storage;  ///< Header bytes (storage or an owner's larger buffer)
  std::uint32_t head_len = 0;
  std::uint32_t pad_len = 0;
  const iovec* data_iov = nullptr;
  std::uint32_t data_iovcnt = 0;
  std::size_t data_offset = 0;  ///< Start of this PDU's data within the scatter list
  std::uint32_t data_len = 0;
  std::uint8_t ddgst[pdu::kDigestSize]{};
  bool has_ddgst = false;

  std::uint32_t tag = 0;  ///< For the owner: what this PDU is
  OutPdu* next = nullptr;
  std::uint64_t sent = 0;  ///< Bytes of this PDU already on the wire

  /// Fill head_len/pad_len from a builder's layout and point the data at [offset, offset + len) of iov.
  void set(const PduLayout& layout, const iovec* iov, std::uint32_t iovcnt, std::size_t offset, std::uint32_t len,
           bool data_digest);
  std::uint64_t total() const { return std::uint64_t(head_len) + pad_len + data_len + (has_ddgst ? 4 : 0); }
};

class PduSender {
 public:
  class Owner {
   public:
    virtual ~Owner() = default;
    /// The PDU is on the wire (sent == true) or dropped after abort() or a send error (sent == false).
    virtual void on_pdu_released(OutPdu& pdu, bool sent) = 0;
    /// sendmsg failed (peer gone): the owner tears the connection down. Called once.
    virtual void on_send_error(int error) = 0;
    /// The sender went idle after abort(): nothing in flight, nothing scheduled.
    virtual void on_sender_idle() = 0;
  };

  /// `records`: the user-space TLS record layer to send through (null: the socket itself).
  PduSender(Reactor& reactor, int fd, Owner& owner, tls::RecordStream* records = nullptr);
  PduSender(const PduSender&) = delete;
  PduSender& operator=(const PduSender&) = delete;

  /// Queue a PDU; it is sent at the end of this reactor turn, after everything queued before it.
  void enqueue(OutPdu& pdu);
  /// Drop everything: queued PDUs are released (sent == false) now, the one in flight when its send completes.
  void abort();
  /// Nothing in flight and no flush scheduled: the owner may be destroyed.
  bool idle() const { return !in_flight_ && !flush_scheduled_; }
  bool empty() const { return head_ == nullptr; }
  /// sendmsg calls (or record-layer sends) made so far.
  std::uint64_t sends() const { return sends_; }

 private:
  // As many iovecs as one sendmsg takes (IOV_MAX): a queue depth's worth of PDUs leaves in one call. At 64 a
  // 128-deep burst of writes took four sendmsgs in a row; under BBR, TCP's pacing then cost the host a third of
  // a microsecond per write in timer code, and throughput fell by up to half (docs/performance.md, fourth round).
  static constexpr unsigned kMaxIov = 1024;
  static void on_send_done(IoOp& op, std::int32_t res, std::uint32_t flags);
  void schedule_flush();
  void flush();
  void release_all();
  unsigned build_iov();

  Reactor& reactor_;
  int fd_;
  tls::RecordStream* records_;
  Owner& owner_;
  IoOp op_;
  msghdr msg_{};
  iovec iov_[kMaxIov]{};
  OutPdu* head_ = nullptr;
  OutPdu* tail_ = nullptr;
  bool in_flight_ = false;
  bool flush_scheduled_ = false;
  bool aborted_ = false;
  std::uint64_t sends_ = 0;
};

}  // namespace nvmf::fabric::tcp
