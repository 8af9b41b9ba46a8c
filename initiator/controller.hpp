// One NVMe-oF controller association seen from the host: the admin queue, its bring-up (Connect, CC.EN, CSTS.RDY,
// Identify), keep-alive, I/O queue creation and the orderly shutdown. The sequence follows what the Linux host
// sends (docs/linux-host.md): Connect QID 0 SQSIZE 31, Property Get CAP, CC with EN=0 then EN=1, CSTS until
// RDY, VS, Identify Controller, Set Features Number of Queues, one Connect per I/O queue with the CNTLID.
//
// Threading: the admin queue lives on one reactor (the caller's or the controller's own) and every admin call
// drives it from the calling thread; call them from one thread. create_io_queue() may be called from any
// thread with that thread's reactor: each I/O queue is then owned by that thread. The threads must outlive
// what they drive: io_uring cancels a thread's pending socket requests when the thread exits.
//
// Failure handling (Linux host defaults, see association.hpp): poll() notices a lost association (admin
// connection down, keep-alive failed, or an I/O queue's connection lost), tears it down and reconnects every
// reconnect_delay with the same host identity: admin queue, enable, Identify, queue count, namespaces; the I/O
// queues then reconnect themselves and resend what the loss caught. After ctrl_loss_timeout the controller is
// given up (state failed) and queued I/O fails. poll() also handles asynchronous events: a namespace change
// refreshes the namespace list, and every event reaches the application's event callback.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fabric/host_transport.hpp"
#include "fabric/reactor.hpp"
#include "initiator/association.hpp"
#include "initiator/async_events.hpp"
#include "initiator/error.hpp"
#include "initiator/host_identity.hpp"
#include "initiator/io_queue.hpp"
#include "initiator/keep_alive.hpp"
#include "initiator/namespace.hpp"
#include "nvme/dhchap_host.hpp"
#include "nvme/libnvme.hpp"

namespace nvmf::initiator {

struct ControllerOptions {
  std::string transport = "tcp";
  std::string traddr = "127.0.0.1";
  std::string trsvcid;   ///< Empty: 8009 for the discovery NQN, else 4420
  std::string subnqn;    ///< Empty: the well-known discovery NQN
  std::string hostnqn;   ///< Empty: /etc/nvme/hostnqn, else generated
  std::string hostid;    ///< Empty: /etc/nvme/hostid, else derived from the host NQN or random
  bool header_digest = false;
  bool data_digest = false;
  std::uint16_t nr_io_queues = 1;     ///< Asked for with Set Features Number of Queues
  std::uint16_t io_queue_size = 128;  ///< Entries per I/O queue (the Linux default), capped by CAP.MQES + 1
  std::uint32_t keep_alive_timeout_ms = 5000;  ///< KATO; 0 disables keep-alive. Discovery uses 0 by default.
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds admin_timeout{10000};  ///< Per admin command
  std::chrono::milliseconds io_timeout{30000};     ///< A command older than this resets its connection
  std::chrono::milliseconds reconnect_delay{10000};       ///< Between reconnect attempts (nvme-cli -c)
  std::chrono::milliseconds ctrl_loss_timeout{600000};    ///< Give up after (nvme-cli -l); negative: never; 0: no retry
  std::chrono::milliseconds fast_io_fail_timeout{-1};     ///< Fail queued I/O after (nvme-cli -F); negative: off
  /// DH-HMAC-CHAP (nvme-cli -S / -C): the host's secret "DHHC-1:..." used when a Connect response asks for
  /// authentication, and the controller's secret, which makes the host authenticate the controller too.
  std::string dhchap_secret;
  std::string dhchap_ctrl_secret;
  /// NVMe/TCP over TLS 1.3 (nvme-cli --tls): every queue starts with a TLS handshake using tls_key.
  bool tls = false;
  /// Configured PSK (nvme-cli --tls-key): NVMeTLSkey-1:HH:...: or the path of a file holding it. Setting it
  /// implies tls.
  std::string tls_key;
  int tls_identity_version = 0;  ///< 0: "NVMe0R0H host sub" (what Linux 6.12 looks up); 1: with the digest
};

/// What poll() reports to the application.
struct ControllerEvent {
  enum class Type { namespaces_changed, discovery_changed, other_aen, disconnected, reconnected, failed };
  Type type;
  std::uint32_t aen_dw0 = 0;  ///< CQE DW0 of the Asynchronous Event Request (AEN types), else 0
};
const char* to_string(ControllerEvent::Type type);

class Controller {
 public:
  /// Admin queue depth and in-capsule size of admin and fabrics commands (NVMe/TCP: 8 KiB).
  static constexpr std::uint16_t kAdminQueueDepth = 32;
  static constexpr std::uint32_t kAdminInCapsule = 8192;

  /// Connect on the caller's reactor (which must outlive the controller).
  static std::unique_ptr<Controller> connect(fabric::Reactor& reactor, const ControllerOptions& options,
                                             Error* error);
  /// Connect on a reactor the controller owns.
  static std::unique_ptr<Controller> connect(const ControllerOptions& options, Error* error);

  /// Shuts down (if shutdown() was not called) and closes the admin queue. Destroy the IoQueues first.
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  /// Orderly shutdown: CC.SHN = normal, wait for CSTS.SHST = complete, close the admin queue. Idempotent.
  Error shutdown();

  /// A new I/O queue on `reactor` (one connection, Connect with this controller's CNTLID). `queue_size` 0 uses
  /// the option. nullptr and *error when every granted queue is in use or the Connect failed.
  std::unique_ptr<IoQueue> create_io_queue(fabric::Reactor& reactor, Error* error, std::uint16_t queue_size = 0);

  // ---- Admin commands (synchronous, on the admin queue) ----
  nvme::Status admin_command(const nvme::Sqe& sqe, void* data, std::uint32_t length, fabric::DataDirection dir,
                             nvme::Cqe* cqe = nullptr);
  nvme::Status identify_namespace(std::uint32_t nsid, nvme_id_ns* out);
  /// Get Log Page of `length` bytes from `offset`, split into transfers the controller accepts (MDTS).
  nvme::Status get_log_page(std::uint8_t lid, std::uint32_t nsid, void* buf, std::uint32_t length,
                            std::uint64_t offset = 0, bool rae = false);
  nvme::Status property_get(std::uint32_t offset, bool eight_bytes, std::uint64_t* value);
  nvme::Status property_set(std::uint32_t offset, std::uint64_t value, bool eight_bytes);
  /// Re-read the active namespace list and each namespace's Identify data.
  Error refresh_namespaces();

  /// Drive the admin reactor (keep-alive, events) for at most `max_wait`, then maintain the association:
  /// handle asynchronous events, notice a loss, reconnect when due. Call it regularly from the admin thread.
  void poll(std::chrono::milliseconds max_wait);
  /// The maintenance step of poll() alone (no waiting).
  void maintain();
  /// Called from poll()/maintain() on the admin thread for every event; may call admin commands.
  void set_event_callback(std::function<void(const ControllerEvent&)> callback) { on_event_ = std::move(callback); }

  enum class State { live, reconnecting, failed };
  State state() const { return state_; }
  /// Live and its admin connection up.
  bool alive() const;
  /// Associations made so far (1 after connect; each reconnect adds one).
  std::uint32_t generation() const { return association_->generation(); }

  const nvme_id_ctrl& id() const { return *id_ctrl_; }
  const std::vector<Namespace>& namespaces() const { return namespaces_; }
  const Namespace* find_namespace(std::uint32_t nsid) const;
  const ControllerOptions& options() const { return options_; }
  const HostIdentity& host() const { return host_; }
  std::uint16_t cntlid() const { return cntlid_; }
  std::uint64_t cap() const { return cap_; }
  std::uint32_t vs() const { return vs_; }
  bool is_discovery() const { return discovery_; }
  std::uint16_t io_queues_granted() const { return io_queues_granted_; }
  std::uint16_t max_io_queue_size() const;
  std::uint32_t max_transfer_size() const { return max_transfer_; }
  std::uint32_t io_in_capsule_limit() const;
  fabric::Reactor& reactor() { return *reactor_; }
  const KeepAlive& keep_alive() const { return keep_alive_; }
  std::uint64_t async_events_received() const { return async_events_.received(); }
  /// Runs a new DH-HMAC-CHAP transaction on the admin queue (re-authentication, as the Linux host does when its
  /// secret changes); needs options().dhchap_secret. I/O keeps flowing meanwhile.
  Error reauthenticate();

 private:
  Controller(fabric::Reactor& reactor, std::unique_ptr<fabric::Reactor> owned, const ControllerOptions& options);
  Error bring_up();
  /// One association: admin queue, enable, Identify, queues, namespaces, events, keep-alive.
  Error establish();
  void tear_down_admin();
  Error connect_admin_queue();
  Error configure_async_events();
  std::unique_ptr<fabric::HostQueue> connect_io_queue(fabric::Reactor& reactor, std::uint16_t qid,
                                                      std::uint16_t size, Error* error);
  // controller_recovery.cpp
  void lose_association(const std::string& why);
  void try_reconnect();
  void give_up(const std::string& why);
  void handle_async_event(std::uint32_t dw0);
  void emit(ControllerEvent::Type type, std::uint32_t dw0 = 0);
  Error enable();
  Error wait_ready(bool ready);
  Error negotiate_io_queues();
  std::uint16_t allocate_qid();
  void release_qid(std::uint16_t qid);

  std::unique_ptr<fabric::Reactor> owned_reactor_;  // destroyed last
  fabric::Reactor* reactor_;
  /// The thread that connected the controller: the only one that may drive the admin reactor.
  const std::thread::id admin_thread_ = std::this_thread::get_id();
  ControllerOptions options_;
  HostIdentity host_;
  std::optional<nvme::dhchap::HostCredentials> dhchap_;  ///< Parsed from the options at bring-up
  std::shared_ptr<const fabric::tls::ClientContext> tls_;  ///< TLS PSK and identity, made at bring-up
  std::unique_ptr<fabric::HostQueue> admin_;
  KeepAlive keep_alive_;
  AsyncEvents async_events_;
  std::shared_ptr<AssociationState> association_;
  std::function<void(const ControllerEvent&)> on_event_;
  State state_ = State::live;
  std::chrono::steady_clock::time_point lost_at_{};
  std::chrono::steady_clock::time_point next_attempt_{};
  unsigned reconnect_attempts_ = 0;
  std::atomic<std::uint32_t> io_in_capsule_{0};
  std::unique_ptr<nvme_id_ctrl> id_ctrl_;
  std::vector<Namespace> namespaces_;
  std::uint16_t cntlid_ = 0;
  std::uint64_t cap_ = 0;
  std::uint32_t vs_ = 0;
  std::uint32_t cc_ = 0;
  bool discovery_ = false;
  bool shut_down_ = false;
  std::uint16_t io_queues_granted_ = 0;
  bool queues_negotiated_ = false;
  std::uint32_t max_transfer_ = 0;
  std::mutex qid_mutex_;
  std::vector<bool> qid_in_use_;  // index qid - 1
  std::atomic<unsigned> live_io_queues_{0};
};

}  // namespace nvmf::initiator
