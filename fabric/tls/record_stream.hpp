// The user-space TLS 1.3 record layer of one NVMe/TCP connection once the handshake is done, where the kernel has
// no `tls` ULP (or NVMF_TLS_USERSPACE forces this path). The PDU code calls it where it would put a recv or a
// sendmsg on the socket into io_uring; no socketpair and no relay in between.
//
//   receive: ciphertext comes from an io_uring recv on the TCP socket into one buffer; OpenSSL reads it through a
//            BIO of ours that points at that buffer (no BIO_s_mem copy) and decrypts into the caller's buffers
//            (the PDU receiver's staging buffer or a command's data buffer).
//   send:    the caller's scatter list (every PDU its sender had queued in the reactor turn) is gathered into
//            chunks of up to 16 KiB, one record each, encrypted into a send buffer that one io_uring send takes:
//            many small PDUs cost one record and one send, not one of each per PDU.
//
// Each call completes the caller's IoOp exactly once, with what recv/sendmsg on a socket would return: plaintext
// bytes, 0 at the end of the stream, -errno; a record that fails authentication or parsing gives -EBADMSG (and a
// warning naming the peer, never a key). Completions run from a deferred task on the reactor, never inside the
// call (the callers' state machines are not re-entrant). One receive and one send may be in flight; the owner
// ends a parked receive with shutdown(2) on the TCP socket as it would without TLS, and destroys this object only
// when neither of its operations is pending. Buffers are allocated once per connection, nothing per I/O.
#pragma once
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "fabric/io_op.hpp"

typedef struct ssl_st SSL;
typedef struct bio_st BIO;
typedef struct bio_method_st BIO_METHOD;

namespace nvmf::fabric {
class Reactor;
}

namespace nvmf::fabric::tls {

class RecordStream {
 public:
  /// Takes `ssl` (handshake complete, its BIOs drained) and replaces its BIOs with ours; `fd` stays the caller's.
  RecordStream(Reactor& reactor, int fd, SSL* ssl, std::string peer);
  ~RecordStream();
  RecordStream(const RecordStream&) = delete;
  RecordStream& operator=(const RecordStream&) = delete;

  /// Decrypt into iov[0..iovcnt) (must stay put until `op` completes); completes with the bytes delivered (> 0
  /// as soon as any are), 0 at close_notify or TCP end of stream, -errno.
  void recv(const iovec* iov, unsigned iovcnt, IoOp& op);
  /// Encrypt up to kSendMax bytes of iov[0..iovcnt) and send them; completes with the plaintext bytes taken
  /// (all of them are on the wire by then), or -errno.
  void send(const iovec* iov, unsigned iovcnt, IoOp& op);

  /// Ciphertext that was read past the handshake (normally none: the handshake reads records one at a time).
  void preload(const std::uint8_t* data, std::size_t len);

  static constexpr std::size_t kRecordPlain = 16384;  ///< TLS 1.3 maximum record plaintext
  static constexpr std::size_t kSendMax = 8 * kRecordPlain;

 private:
  static constexpr std::size_t kRecordOverhead = 5 + 1 + 16 + 256;  ///< Header, content type, tag, slack
  static constexpr std::size_t kInSize = 64 * 1024;
  static constexpr std::size_t kOutSize = kSendMax + 8 * kRecordOverhead + 16 * 1024;

  static int bio_write(BIO* bio, const char* data, std::size_t len, std::size_t* written);
  static int bio_read(BIO* bio, char* data, std::size_t len, std::size_t* read);
  static long bio_ctrl(BIO* bio, int cmd, long num, void* ptr);
  static BIO_METHOD* bio_method();

  static void on_net_recv(IoOp& op, std::int32_t res, std::uint32_t flags);
  static void on_net_send(IoOp& op, std::int32_t res, std::uint32_t flags);
  void read_plain();
  void arm_net_recv();
  void start_net_send();
  void flush_control();
  void complete_recv(std::int32_t res);
  void complete_send(std::int32_t res);
  void record_failed(const char* what);

  Reactor& reactor_;
  int fd_;
  SSL* ssl_;
  std::string peer_;

  // Receive side: ciphertext in in_[in_pos_, in_end_), handed to OpenSSL by bio_read.
  std::unique_ptr<std::uint8_t[]> in_;
  std::size_t in_pos_ = 0, in_end_ = 0;
  IoOp net_recv_op_;
  bool net_recv_busy_ = false;
  bool net_eof_ = false;   ///< TCP said end of stream (or failed: net_error_)
  int net_error_ = 0;
  bool closed_ = false;    ///< close_notify seen: every later receive is end of stream
  bool broken_ = false;    ///< A record failed: every later call fails
  IoOp* recv_op_ = nullptr;
  const iovec* recv_iov_ = nullptr;
  unsigned recv_iovcnt_ = 0;
  std::int32_t recv_res_ = 0;

  // Send side: ciphertext in out_[out_pos_, out_end_), appended by bio_write (records and OpenSSL's own alerts).
  std::unique_ptr<std::uint8_t[]> out_;
  std::size_t out_pos_ = 0, out_end_ = 0;
  std::unique_ptr<std::uint8_t[]> gather_;  ///< One record's plaintext, gathered from the caller's scatter list
  IoOp net_send_op_;
  bool net_send_busy_ = false;
  IoOp* send_op_ = nullptr;
  std::int32_t send_res_ = 0;
};

}  // namespace nvmf::fabric::tls
