// NVMe/TCP controller queue: one accepted connection, owned by one reactor, delivering command capsules to a
// QueueHandler (fabric/transport.hpp has the request life cycle this implements).
//
// Receive state machine (PduReceiver, fabric/tcp/pdu_receiver.hpp): common_header -> header_rest -> dispatch ->
// padding -> data -> data_digest -> common_header, or -> stopped on any protocol error. The connection phase sits
// on top of it: until the ICReq has been answered only an ICReq (or H2CTermReq) is accepted, afterwards never
// again. In dispatch a CapsuleCmd takes a request from the pool (or stalls the receiver, with no recv armed,
// until one is recycled) and points the data at a pooled buffer; an H2CData is matched to its request by TTAG
// and checked against the R2T window before its data lands in that request's buffer at DATAO.
//
// Per request: free -> receiving_capsule -> with_handler [-> fetching (waiting for an R2T turn when
// limits.max_r2t_commands is reached, then R2Ts out, H2CData in) -> with_handler] -> completing (C2HData and/or
// CapsuleResp queued) -> free once the sender released every PDU it owns. cancel() takes a request waiting for
// its R2T turn back to with_handler (Abort).
//
// Send side (PduSender): PDUs queued during a reactor turn leave together at its end in one sendmsg whose
// iovecs point at each request's pooled headers and its data buffer.
//
// Errors: a malformed PDU gets a C2HTermReq (FES, FEI, offending header) and the connection closes once it is
// sent, or after term_req_timeout if the peer does not read. On close the handler hears on_queue_closed() once;
// requests it still holds complete into the void; the queue deletes itself (and its handler) once the socket is
// closed, no io_uring operation is in flight and every request is back in the pool.
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fabric/reactor.hpp"
#include "fabric/tcp/codec.hpp"
#include "fabric/tcp/pdu_receiver.hpp"
#include "fabric/tcp/pdu_sender.hpp"
#include "fabric/tls/record_stream.hpp"

namespace nvmf::fabric::tls {
class ServerContext;
}
#include "fabric/transport.hpp"

namespace nvmf::fabric::tcp {

struct ControllerQueueConfig {
  TransportLimits limits;
  /// MAXH2CDATA advertised in the ICResp and the largest R2TL; 0 means limits.max_io_size.
  std::uint32_t max_h2c_data = 0;
  /// How long a C2HTermReq may take to leave before the connection is closed anyway.
  std::chrono::milliseconds term_req_timeout{2000};
  /// A connection without a Fabrics Connect (the handler's set_params) this long after it was accepted is
  /// closed: a peer that opens connections and says nothing must not hold their request pools.
  std::chrono::milliseconds connect_timeout{10000};
  /// Staging for one recv: many capsules (72 bytes, or 4168 with a 4 KiB in-capsule write) per operation. Deep
  /// enough to empty the socket at QD 128 of 4 KiB writes: what a recv leaves queued goes cold, and copying it
  /// later cost the kernel 1.0 against 0.15 us per write with 64 KiB (docs/performance.md). Its pages are
  /// committed only as recvs reach them.
  std::size_t receive_buffer_size = 256 * 1024;
  /// PSK lookup and TLS settings; required when the listen address allows or requires TLS.
  std::shared_ptr<const tls::ServerContext> tls;
  /// Per connection, set by the listener: the host NQN the TLS session authenticated (empty: plain TCP).
  std::string secure_channel_host;
};

class TcpControllerQueue final : public ControllerQueue, private PduReceiver::Owner, private PduSender::Owner {
 public:
  /// Takes ownership of the connected socket, asks the factory for a handler and starts receiving. The queue
  /// owns itself from then on (see the life cycle above). Call on `reactor`'s thread. `records`: the user-space
  /// TLS record layer of this connection (null: plain TCP or kernel TLS).
  static TcpControllerQueue* start(Reactor& reactor, int fd, std::string peer, const ControllerQueueConfig& config,
                                   QueueHandlerFactory& factory, std::unique_ptr<tls::RecordStream> records = nullptr);

  void fetch_data(ControllerRequest& req) override;
  void complete(ControllerRequest& req) override;
  /// Withdraws a request still waiting for its first R2T (no TTAG given to the host yet).
  bool cancel(ControllerRequest& req) override;
  void set_params(const QueueParams& params) override;
  void close() override;
  Reactor& reactor() override { return reactor_; }
  TransportType transport_type() const override { return TransportType::tcp; }
  std::string peer_address() const override { return peer_; }
  std::string secure_channel_host() const override { return config_.secure_channel_host; }
  std::uint16_t max_depth() const override { return static_cast<std::uint16_t>(slots_.size()); }
  bool sends_lent_data() const override { return true; }
  void keep_data(ControllerRequest& req) override;

 private:
  static constexpr unsigned kMaxR2tPerCommand = 4;
  enum class SlotState : std::uint8_t { free, receiving_capsule, with_handler, fetching, completing };
  struct Slot {
    ControllerRequest req;
    SlotState state = SlotState::free;
    iovec data_iov{};
    std::uint32_t sgl_length = 0;     ///< Bytes the SGL described (complete() never sends more)
    std::uint32_t h2c_received = 0;   ///< H2CData bytes arrived, in order
    std::uint32_t r2t_issued = 0;     ///< Bytes asked for by R2Ts so far
    std::uint8_t r2t_outstanding = 0;
    std::uint8_t r2t_busy = 0;        ///< Bit i: r2t[i] is queued in the sender
    std::uint8_t pdus_queued = 0;     ///< PDUs of this slot the sender has not released yet
    bool data_error = false;
    bool awaiting_r2t = false;        ///< fetching, but waiting in r2t_waiting_ for its first R2T
    OutPdu r2t[kMaxR2tPerCommand];
    OutPdu c2h;
    OutPdu resp;
  };
  enum Tag : std::uint32_t { kTagC2h = kMaxR2tPerCommand, kTagResp, kTagIcResp, kTagTermReq, kTagBits = 3 };

  TcpControllerQueue(Reactor& reactor, int fd, std::string peer, const ControllerQueueConfig& config,
                     std::unique_ptr<tls::RecordStream> records);
  ~TcpControllerQueue() override;

  // Receive side (controller_recv.cpp).
  std::optional<FatalError> check_header(const pdu::CommonHeader& ch) override;
  PduReceiver::Verdict on_header(const std::uint8_t* header, DataSink& sink, FatalError& error) override;
  void on_pdu(const std::uint8_t* header, bool data_digest_ok) override;
  void on_protocol_error(const FatalError& error, const std::uint8_t* header, std::size_t len) override;
  void on_connection_lost(int error, bool mid_pdu) override;
  void on_receiver_idle() override { schedule_turn(); }
  PduReceiver::Verdict accept_capsule(const std::uint8_t* header, DataSink& sink);
  PduReceiver::Verdict accept_h2c_data(const std::uint8_t* header, DataSink& sink, FatalError& error);
  void handle_ic_req(const std::uint8_t* header);
  void handle_capsule(bool data_digest_ok);
  void handle_h2c_data(const std::uint8_t* header, bool data_digest_ok);
  std::uint32_t in_capsule_limit() const;

  // Send side and life cycle (controller_queue.cpp).
  void on_pdu_released(OutPdu& pdu, bool sent) override;
  void on_send_error(int error) override;
  void on_sender_idle() override { schedule_turn(); }
  void issue_r2ts(Slot& slot);
  void send_completion(Slot& slot);
  void finish_fetch(Slot& slot);
  /// The slot's R2T phase is over (data in, failed, or cancelled): its place goes to the next waiting command.
  void leave_r2t_phase(Slot& slot);
  void admit_waiting_r2t();
  void recycle_if_done(Slot& slot);
  void terminate(const FatalError& error, const std::uint8_t* header, std::size_t len);
  void teardown(const char* why);
  void schedule_turn();
  void end_of_turn();
  Slot& slot_of(ControllerRequest& req) { return slots_[req.slot]; }
  bool sending_allowed() const { return !closing_ && !terminating_; }

  Reactor& reactor_;
  int fd_;
  std::unique_ptr<tls::RecordStream> records_;  ///< Before receiver_ and sender_, which hold it
  std::string peer_;
  ControllerQueueConfig config_;
  std::uint32_t max_io_size_;
  std::uint32_t max_h2c_data_;
  std::unique_ptr<QueueHandler> handler_;
  PduReceiver receiver_;
  PduSender sender_;

  std::vector<Slot> slots_;
  std::vector<std::uint16_t> free_slots_;
  std::uint32_t in_use_ = 0;
  std::vector<std::uint16_t> r2t_waiting_;  ///< Slots waiting for their first R2T, oldest first (reserved)
  std::uint32_t r2t_active_ = 0;           ///< Slots with R2Ts under way
  Slot* capsule_slot_ = nullptr;  ///< The CapsuleCmd being received
  std::uint32_t capsule_data_len_ = 0;

  // Negotiated by ICReq/ICResp and Connect.
  bool connected_ = false;
  Digests digests_;
  std::uint8_t hpda_ = 0;
  std::uint32_t max_r2t_outstanding_ = 1;
  bool params_set_ = false;
  QueueParams params_;
  std::uint16_t sqhd_ = 0;

  OutPdu ic_resp_pdu_;
  pdu::IcResp ic_resp_{};
  OutPdu term_pdu_;
  std::uint8_t term_buf_[kTermReqBufferSize]{};

  bool terminating_ = false;
  bool closing_ = false;
  bool handler_notified_ = false;
  bool turn_scheduled_ = false;
  std::uint32_t deferred_calls_ = 0;
  TimerWheel::Id term_timer_ = 0;
  TimerWheel::Id connect_timer_ = 0;
};

}  // namespace nvmf::fabric::tcp
