// The state of one NVMe/TCP host queue: socket, PDU receiver and sender, and a slot per command identifier.
// TcpHostQueue (host_queue.hpp) is the caller's handle on it. The connection owns itself: when the handle goes
// away it shuts the socket down and deletes itself once no io_uring operation still points into it, so a queue
// can be destroyed from anywhere on its reactor's thread, even from inside a completion callback.
//
// Per command slot: free -> submitted (CapsuleCmd queued, with in-capsule data) [-> R2T answered by H2CData
// PDUs of at most MAXH2CDATA bytes, LAST_PDU on each R2T's last] [-> C2HData received straight into the caller's
// iovecs] -> response (CapsuleResp, or C2HData with SUCCESS) -> completed once the sender no longer references
// the caller's buffers.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fabric/host_transport.hpp"
#include "fabric/reactor.hpp"
#include "fabric/tcp/codec.hpp"
#include "fabric/tcp/pdu_receiver.hpp"
#include "fabric/tcp/pdu_sender.hpp"
#include "fabric/tls/record_stream.hpp"

namespace nvmf::fabric::tcp {

/// What the ICResp settled.
struct NegotiatedParams {
  Digests digests;
  std::uint32_t max_h2c_data = 0;
  std::uint8_t cpda = 0;
};

class HostConnection final : private PduReceiver::Owner, private PduSender::Owner {
 public:
  /// Connect, exchange ICReq/ICResp; drives reactor.run_once() until done. nullptr with *error on failure.
  static HostConnection* open(Reactor& reactor, const HostQueueOptions& options, std::string* error);
  /// The ICReq/ICResp exchange on a socket already connected (owned from now on, closed on failure); open()
  /// after its TCP connect (and TLS handshake: `records` is the user-space record layer over fd, null for kernel
  /// TLS), and the fuzz harness over a socketpair (tests/fuzz/tcp_host_fuzz.cpp).
  static HostConnection* open_connected(Reactor& reactor, int fd, const HostQueueOptions& options,
                                        std::chrono::milliseconds timeout, std::string* error,
                                        std::unique_ptr<tls::RecordStream> records = nullptr);

  bool submit(HostRequest& req);
  void close(nvme::Status status, const std::string& why);
  /// The handle is gone: close, and delete once idle.
  void release();

  std::uint32_t outstanding() const { return outstanding_; }
  std::uint16_t depth() const { return static_cast<std::uint16_t>(slots_.size()); }
  bool alive() const { return alive_; }
  const HostQueueError& error() const { return error_; }
  Reactor& reactor() { return reactor_; }
  std::uint32_t in_capsule_limit() const { return in_capsule_limit_; }
  void set_in_capsule_limit(std::uint32_t limit) { in_capsule_limit_ = limit; }
  const NegotiatedParams& negotiated() const { return negotiated_; }

 private:
  enum class SlotState : std::uint8_t { free, active, done };
  /// A command's progress: reset for every new command. Kept apart from the PDUs below, which OutPdu::set()
  /// fills in full each time, so that the reset is a few words rather than a copy of the whole slot.
  struct SlotProgress {
    HostRequest* req = nullptr;
    SlotState state = SlotState::free;
    std::uint32_t length = 0;       ///< Sum of the caller's iovecs
    bool in_capsule = false;
    bool cmd_in_sender = false;
    bool h2c_in_sender = false;
    bool h2c_active = false;        ///< An R2T is being answered
    std::uint16_t ttag = 0;
    std::uint32_t h2c_next = 0;     ///< Next offset to send for the current R2T
    std::uint32_t r2t_end = 0;      ///< End of the current R2T
    std::uint32_t r2t_expected = 0;  ///< Where the next R2T must start
    std::uint32_t c2h_received = 0;
    bool data_error = false;
    nvme::Status final_status;
  };
  struct Slot : SlotProgress {
    OutPdu cmd;
    OutPdu h2c;
  };
  enum : std::uint32_t { kTagCmd = 0, kTagH2c = 1, kTagIcReq = 2, kTagTermReq = 3 };

  HostConnection(Reactor& reactor, int fd, const HostQueueOptions& options,
                 std::unique_ptr<tls::RecordStream> records);
  ~HostConnection() override;

  std::optional<FatalError> check_header(const pdu::CommonHeader& ch) override;
  PduReceiver::Verdict on_header(const std::uint8_t* header, DataSink& sink, FatalError& error) override;
  void on_pdu(const std::uint8_t* header, bool data_digest_ok) override;
  void on_protocol_error(const FatalError& error, const std::uint8_t* header, std::size_t len) override;
  void on_connection_lost(int error, bool mid_pdu) override;
  void on_receiver_idle() override { schedule_turn(); }
  void on_pdu_released(OutPdu& pdu, bool sent) override;
  void on_send_error(int error) override;
  void on_sender_idle() override { schedule_turn(); }

  bool wait_connected(std::chrono::milliseconds timeout, std::string* error);
  void handle_ic_resp(const std::uint8_t* header);
  Slot* active_slot(std::uint16_t cid, DataDirection direction);
  PduReceiver::Verdict accept_r2t(const std::uint8_t* header, FatalError& error);
  PduReceiver::Verdict accept_c2h(const std::uint8_t* header, DataSink& sink, FatalError& error);
  void handle_r2t(const std::uint8_t* header);
  void handle_c2h(const std::uint8_t* header, bool data_digest_ok);
  void handle_resp(const std::uint8_t* header);
  void send_next_h2c(Slot& slot);
  void finish(Slot& slot, nvme::Status status);
  void try_complete(Slot& slot);
  void fail_with_term_req(const FatalError& error, const std::uint8_t* header, std::size_t len);
  void schedule_turn();
  void end_of_turn();

  Reactor& reactor_;
  int fd_;
  std::unique_ptr<tls::RecordStream> records_;  ///< User-space TLS over fd_; before receiver_ and sender_
  PduReceiver receiver_;
  PduSender sender_;
  std::vector<Slot> slots_;
  std::vector<std::uint16_t> free_cids_;
  std::uint32_t outstanding_ = 0;
  std::uint32_t in_capsule_limit_ = 8192;  ///< Admin/fabrics in-capsule size until the initiator says otherwise
  std::uint8_t requested_dgst_ = 0;

  bool connected_ = false;
  bool alive_ = true;
  bool released_ = false;
  bool turn_scheduled_ = false;
  std::string connect_error_;
  HostQueueError error_;
  NegotiatedParams negotiated_;

  pdu::IcReq ic_req_{};
  OutPdu ic_req_pdu_;
  OutPdu term_pdu_;
  std::uint8_t term_buf_[kTermReqBufferSize]{};
};

}  // namespace nvmf::fabric::tcp
