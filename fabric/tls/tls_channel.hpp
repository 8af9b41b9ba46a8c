// One NVMe/TCP connection's TLS 1.3 session on a reactor: the handshake, then the user-space record layer.
//
//   handshake: TLS records are read one at a time (5-byte header, then exactly its body) and fed to OpenSSL
//   through memory BIOs, so nothing after the peer's last handshake record is consumed (that is what lets the
//   kernel's TLS take over a socket). A timer bounds the handshake.
//   kernel:    where the kernel has the `tls` ULP, the application traffic keys go into the socket
//   (kernel_tls.hpp) once the last handshake bytes are on the wire, the PDU code gets the TCP socket itself and
//   the channel is done. NVMF_TLS_USERSPACE forces the user-space record layer below.
//   user space: otherwise the PDU code gets the TCP socket and a RecordStream (record_stream.hpp) that takes
//   over the session: its receiver and sender encrypt and decrypt through it, with no relay in between.
//
// The channel owns itself: it deletes itself once the session is handed over or refused and no operation is in
// flight.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "fabric/io_op.hpp"
#include "fabric/timer_wheel.hpp"
#include "fabric/tls/record_stream.hpp"
#include "fabric/tls/tls_context.hpp"

typedef struct bio_st BIO;

namespace nvmf::fabric {
class Reactor;
}

namespace nvmf::fabric::tls {

/// Called once on the reactor: fd >= 0 is the TCP socket for the PDU code, -1 means the connection was refused
/// or failed and is closed already; `why` says why (never a key). `host`: the host NQN of the PSK identity the
/// session authenticated (empty for a plain connection on a port that allows TLS). `records`: the user-space
/// record layer the PDU code must send and receive through; null when the kernel's TLS took the socket (or the
/// connection is plain).
using Ready = std::function<void(int fd, const std::string& why, const std::string& host,
                                 std::unique_ptr<RecordStream> records)>;

class TlsChannel;
/// The host's handle on its channel while the handshake runs: close() ends it and closes the TCP connection at
/// once. Once the channel has handed the session over (Ready called) it is gone and close() does nothing: the
/// PDU code owns the socket (and the RecordStream). Reactor thread only.
struct TlsLink {
  TlsChannel* channel = nullptr;  ///< Cleared when the channel is gone
  void close();
};

/// Controller side. `allow_plain`: a connection whose first byte is not a TLS handshake record goes to the PDU
/// code as it is (a port that allows TLS but does not require it).
void accept_tls(Reactor& reactor, int fd, std::string peer, std::shared_ptr<const ServerContext> context,
                bool allow_plain, Ready ready);
/// Host side, on a connected socket.
std::shared_ptr<TlsLink> connect_tls(Reactor& reactor, int fd, std::string peer,
                                     std::shared_ptr<const ClientContext> context, std::chrono::milliseconds timeout,
                                     Ready ready);

class TlsChannel {
 public:
  TlsChannel(Reactor& reactor, int fd, std::string peer, SSL* ssl, Ready ready);
  ~TlsChannel();
  TlsChannel(const TlsChannel&) = delete;
  TlsChannel& operator=(const TlsChannel&) = delete;

  void start(std::chrono::milliseconds timeout, bool peek_first);
  HandshakeNotes& notes() { return notes_; }

 private:
  static constexpr std::size_t kRecordMax = 16384 + 256 + 5;  ///< Largest TLS 1.3 ciphertext record
  static constexpr std::size_t kBuffer = 64 * 1024;
  enum class Phase { peek, handshake, finishing, closing };

  static void on_net_recv(IoOp& op, std::int32_t res, std::uint32_t flags);
  static void on_net_send(IoOp& op, std::int32_t res, std::uint32_t flags);

  void arm_net_recv();
  void handshake_record_done();
  void drive_handshake();
  void go_running();
  bool hand_over_to_kernel();
  void flush_out();
  void refuse(const std::string& why);
  void close();
  void maybe_destroy();

  Reactor& reactor_;
  int fd_;
  std::string peer_;
  SSL* ssl_;
  BIO* rbio_ = nullptr;
  BIO* wbio_ = nullptr;
  Ready ready_;
  HandshakeNotes notes_;
  Phase phase_ = Phase::handshake;
  bool allow_plain_ = false;
  TimerWheel::Id timer_ = 0;

  IoOp net_recv_op_, net_send_op_;
  bool net_recv_busy_ = false, net_send_busy_ = false;

  // Handshake: one record at a time into net_in_.
  std::size_t want_ = 0, have_ = 0;
  bool in_body_ = false;

  std::unique_ptr<std::uint8_t[]> net_in_;     ///< Ciphertext from the socket
  std::unique_ptr<std::uint8_t[]> net_out_;    ///< Ciphertext to the socket
  std::size_t out_len_ = 0, out_sent_ = 0;
  std::uint8_t peek_byte_ = 0;

  friend void accept_tls(Reactor&, int, std::string, std::shared_ptr<const ServerContext>, bool, Ready);
  friend std::shared_ptr<TlsLink> connect_tls(Reactor&, int, std::string, std::shared_ptr<const ClientContext>,
                                              std::chrono::milliseconds, Ready);
  friend struct TlsLink;
  std::shared_ptr<TlsLink> link_;
  std::shared_ptr<const ServerContext> server_;
  std::shared_ptr<const ClientContext> client_;
};

}  // namespace nvmf::fabric::tls
