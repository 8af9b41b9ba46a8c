// One NVMe controller of the dynamic controller model: created by an admin queue Connect, destroyed when its
// admin queue goes away. It owns the controller registers (CC/CSTS), features, asynchronous events, the error
// log and the table of its I/O queues.
//
// Threading model
// - The admin queue, and with it everything the admin commands touch (properties, features, AERs, keep-alive
//   timer, shutdown flushes), runs on the admin queue's reactor (the "admin reactor").
// - Each I/O queue runs on its own connection's reactor, possibly another one. On the per-I/O path it reads only
//   its own state: an immutable namespace table snapshot (shared_ptr taken at Connect), its own counters and
//   an "enabled" flag that only its reactor writes, plus the write-cache switch (a relaxed atomic).
// - I/O queue Connect runs on the I/O queue's reactor and must see CC.EN/CSTS.RDY, the number of granted queues
//   and the QIDs in use: that state sits behind `mutex_` (control path only, never taken per I/O).
// - State changes that I/O queues must obey (CC.EN 1->0, shutdown, controller teardown) travel to each queue's
//   reactor with Reactor::post(); the posted task finds the queue again by its token under the mutex, so a
//   queue that has gone away in the meantime is simply skipped (queues are destroyed only on their reactor).
// - Events for the AER machinery may come from any thread (notify_*), and are posted to the admin reactor.
// - The controller is shared (shared_ptr) by its admin queue and its I/O queues, so it outlives the last of
//   them; reactor-bound resources (the keep-alive timer, held AERs) are released in teardown(), on the admin
//   reactor, never in the destructor.
// - Namespaces: the controller keeps the table of namespaces its host may see (behind the mutex). A live change
//   calls refresh_namespaces(), which on the admin reactor rebuilds that table, hands it to every I/O queue on
//   its reactor, records the NSIDs that changed (log page 04h) and raises the Namespace Attribute Changed
//   notice.
#pragma once
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "fabric/reactor.hpp"
#include "fabric/transport.hpp"
#include "nvme/status.hpp"
#include "target/error_log.hpp"
#include "target/registry.hpp"
#include "target/reservation_log.hpp"
#include "target/subsystem.hpp"

namespace nvmf::target {

class IoQueue;

struct HostInfo {
  std::string nqn;
  std::array<std::uint8_t, 16> id{};
  std::string peer_address;
  std::uint16_t portid = 0;  ///< The target port (listener) the admin queue connected through
};

/// Controller register states (CC/CSTS), moved only by Controller::apply_cc and the shutdown completion.
enum class ControllerState {
  disabled,       ///< CC.EN = 0: CSTS 0
  ready,          ///< CC.EN = 1 with a valid configuration: CSTS.RDY = 1
  fatal,          ///< CC.EN = 1 with an unsupported configuration: CSTS.CFS = 1
  shutting_down,  ///< CC.SHN set, backends being flushed: CSTS.SHST = 1h
  shut_down,      ///< Flushes done: CSTS.SHST = 2h, CSTS.RDY = 0 (as nvmet)
};

class Controller : public std::enable_shared_from_this<Controller> {
 public:
  static constexpr std::uint32_t kVersion = 0x00010400;  ///< NVMe 1.4
  static constexpr std::uint8_t kAerLimit = 3;             ///< AERL (0's based): four outstanding AERs
  static constexpr std::uint8_t kAbortLimit = 3;           ///< ACL (0's based)
  static constexpr std::uint16_t kAdminQueueEntries = 32;  ///< ASQSZ in the discovery log

  /// Called on the admin reactor by the admin queue's Connect.
  Controller(std::shared_ptr<Registry> registry, std::shared_ptr<Subsystem> subsystem, std::uint16_t cntlid,
             HostInfo host, std::uint32_t kato_ms, fabric::ControllerQueue& admin_queue);
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // --- identity (immutable, any thread)
  std::uint16_t cntlid() const { return cntlid_; }
  const std::string& host_nqn() const { return host_.nqn; }
  const HostInfo& host() const { return host_; }
  Subsystem& subsystem() const { return *subsystem_; }
  const std::shared_ptr<Subsystem>& subsystem_ptr() const { return subsystem_; }
  Registry& registry() const { return *registry_; }
  bool is_discovery() const { return subsystem_->kind() == SubsystemKind::discovery; }
  const fabric::TransportLimits& limits() const { return registry_->settings().limits; }
  fabric::TransportType transport_type() const { return transport_type_; }
  /// CAP.MQES: the largest I/O queue size, 0's based.
  std::uint16_t mqes() const { return mqes_; }
  std::uint64_t cap() const;

  // --- life cycle (admin reactor)
  /// Arms the keep-alive timer; call once the controller is owned by a shared_ptr.
  void start();
  /// The admin queue is gone: I/O queues are closed, held AERs completed, the CNTLID released.
  void teardown();
  bool torn_down() const;
  /// Any thread: close the admin queue (and so the controller) on the admin reactor. Target::stop uses it.
  void request_close();

  // --- registers (admin reactor; CC/CSTS also read by I/O Connect under the mutex)
  nvme::Status get_property(std::uint32_t offset, bool eight_bytes, std::uint64_t& value) const;
  nvme::Status set_property(std::uint32_t offset, bool eight_bytes, std::uint64_t value);
  std::uint32_t cc() const;
  std::uint32_t csts() const;
  ControllerState state() const;
  /// CC.EN = 1 and CSTS.RDY = 1: admin commands other than fabrics ones are accepted.
  bool ready() const;

  // --- I/O queues (any reactor)
  /// Checks the Connect of I/O queue `qid` against the controller state; on success the queue is registered
  /// and `token` identifies it for detach and posted notifications.
  /// `namespaces` receives the table the queue serves, taken under the same lock so no refresh is missed.
  nvme::Status attach_io_queue(std::uint16_t qid, IoQueue& queue, fabric::Reactor& reactor, std::uint64_t& token,
                               std::shared_ptr<const NamespaceTable>& namespaces);
  void detach_io_queue(std::uint64_t token);
  std::size_t io_queue_count() const;
  /// QID and depth of every I/O queue in use, by QID (control socket reports).
  std::vector<std::pair<std::uint16_t, std::uint16_t>> io_queues() const;

  // --- namespaces
  /// Any thread: the namespaces this controller's host sees.
  std::shared_ptr<const NamespaceTable> namespaces() const;
  /// Any thread: the subsystem's namespaces changed (added, removed, resized, visibility); see the threading model.
  void refresh_namespaces();
  /// Admin reactor: the Changed Namespace List log page (04h); cleared, and the notice unmasked, unless `rae`.
  std::vector<std::uint8_t> changed_namespace_log(bool rae);
  /// Admin reactor: the host read the discovery log; the change notice is unmasked unless `rae`.
  void discovery_log_read(bool rae);

  // --- features (admin reactor, except write_cache_enabled)
  /// Set Features Number of Queues; `dw0` receives the granted counts (0's based).
  nvme::Status set_number_of_queues(std::uint16_t nsqr, std::uint16_t ncqr, std::uint32_t& dw0);
  std::uint32_t number_of_queues_dw0() const;
  bool write_cache_enabled() const { return write_cache_.load(std::memory_order_relaxed); }
  void set_write_cache(bool enabled) { write_cache_.store(enabled, std::memory_order_relaxed); }
  std::uint32_t async_event_config() const { return aen_config_; }
  nvme::Status set_async_event_config(std::uint32_t config);
  std::uint32_t supported_async_events() const;
  std::uint32_t kato_ms() const { return kato_ms_; }
  void set_kato_ms(std::uint32_t kato_ms);
  void set_timestamp(std::uint64_t ms);
  /// Timestamp feature data (8 bytes): timestamp in ms and the attribute byte.
  std::uint64_t timestamp_feature() const;

  // --- asynchronous events and keep-alive (admin reactor)
  /// Holds an Asynchronous Event Request; false when AERL + 1 are already outstanding.
  bool hold_aer(fabric::ControllerRequest& req);
  /// Completes the held AER with this CID as Command Abort Requested; false when none is held.
  bool abort_held_aer(std::uint16_t cid);
  /// Abort of an I/O command: asks I/O queue `sqid`, on its reactor, to abort `cid` (IoQueue::abort), then calls
  /// `done(aborted)` back on the admin reactor, never inline. An unknown SQID answers false.
  void abort_io_command(std::uint16_t sqid, std::uint16_t cid, std::function<void(bool aborted)> done);
  /// Any thread: a discovery log change (discovery controllers only, when enabled in AEC).
  void notify_discovery_change();
  /// Any admin command: the host is alive.
  void keep_alive() { host_seen_ = true; }

  // --- asymmetric namespace access (target/controller_ana.cpp)
  /// ANA is reported (Identify CMIC bit 3, OAES bit 11, log page 0Ch) and enforced on I/O: an I/O controller
  /// whose MDTS holds the whole ANA log (target/ana.hpp).
  bool ana_reported() const { return ana_ != nullptr; }
  /// The ANA states of this controller's port; null when ANA is not reported.
  const std::shared_ptr<const PortAnaStates>& ana_states() const { return ana_; }
  /// Any thread: an ANA state of this controller's port changed; raises the ANA change notice when enabled.
  void notify_ana_change();
  /// Admin reactor: the ANA log page (0Ch); the change notice is unmasked unless `rae`.
  std::vector<std::uint8_t> ana_log(bool rae, bool groups_only);
  // --- reservations
  /// Any thread: a reservation event for this controller's host on `nsid`: a Reservation Notification log page
  /// unless masked (feature 82h), and the Reservation Log Page Available event once per reading of the log.
  void notify_reservation(ReservationEvent event, std::uint32_t nsid);
  ReservationLog& reservation_log() { return reservation_log_; }
  /// Admin reactor: log page 80h (one page, removed); the event is unmasked unless `rae`.
  std::vector<std::uint8_t> reservation_log_page(bool rae);
  /// Any thread: calls `done` (from any reactor) once every command on `nsid` that this controller's I/O queues
  /// had in flight when asked has completed (IoQueue::when_drained).
  void drain_namespace(std::uint32_t nsid, std::function<void()> done);
  /// On `reactor`, which must be the queue's: `fn` with the I/O queue `token` names, skipped if it is gone.
  void with_io_queue(std::uint64_t token, const std::function<void(IoQueue&)>& fn);

  // --- errors and statistics (any reactor)
  void record_error(const ErrorRecord& record);
  const ErrorLog& error_log() const { return error_log_; }

 private:
  struct IoQueueLink {
    std::uint16_t qid;
    std::uint16_t depth;
    IoQueue* queue;
    fabric::Reactor* reactor;
  };
  enum class IoQueueAction { disable, close };

  void apply_cc(std::uint32_t new_cc);  ///< The CC/CSTS state machine
  bool cc_valid(std::uint32_t cc) const;
  void begin_shutdown();
  void finish_shutdown_flush(int result);
  /// Detach every I/O queue from the QID table and tell each, on its reactor, to disable or close itself.
  void act_on_io_queues_locked(IoQueueAction action);
  void apply_namespace_refresh();
  /// Raises a notice unless its kind is disabled in the AEN configuration or masked until its log is read.
  void raise_notice(std::uint32_t config_bit, bool& masked, std::uint32_t dw0);
  void queue_event(std::uint32_t dw0);
  void deliver_events();
  void arm_keep_alive_timer();

  const std::shared_ptr<Registry> registry_;
  const std::shared_ptr<Subsystem> subsystem_;
  const std::uint16_t cntlid_;
  const HostInfo host_;
  fabric::ControllerQueue& admin_queue_;
  fabric::Reactor& admin_reactor_;
  const fabric::TransportType transport_type_;
  const std::uint16_t mqes_;

  mutable std::mutex mutex_;  // guards the fields below up to the next comment
  std::uint32_t cc_ = 0;
  ControllerState state_ = ControllerState::disabled;
  bool torn_down_ = false;
  std::uint16_t granted_sq_;
  std::uint16_t granted_cq_;
  std::map<std::uint64_t, IoQueueLink> io_queues_;     ///< Every attached queue, by token, until it detaches
  std::map<std::uint16_t, std::uint64_t> active_qids_;  ///< QID -> token, cleared by a controller reset
  std::uint64_t next_token_ = 1;
  std::shared_ptr<const NamespaceTable> visible_;  ///< What the host sees

  // Admin reactor only.
  std::atomic<bool> write_cache_{true};
  std::uint32_t aen_config_ = 0;
  std::uint32_t kato_ms_ = 0;
  bool host_seen_ = false;
  fabric::TimerWheel::Id kato_timer_ = 0;
  std::deque<fabric::ControllerRequest*> held_aers_;
  std::deque<std::uint32_t> pending_events_;
  std::vector<std::uint32_t> changed_nsids_;  ///< Log page 04h, sorted; more than 1024: FFFFFFFFh alone
  bool ns_notice_masked_ = false;             ///< Until log 04h is read (NVMe base spec, AER)
  bool discovery_notice_masked_ = false;      ///< Until the discovery log is read
  bool ana_notice_masked_ = false;            ///< Until log 0Ch is read
  std::uint64_t timestamp_base_ms_ = 0;
  bool timestamp_set_ = false;
  std::chrono::steady_clock::time_point timestamp_origin_;
  std::vector<BackendIo> shutdown_flushes_;
  std::size_t shutdown_flushes_left_ = 0;
  std::shared_ptr<Controller> shutdown_self_;  ///< Keeps the controller alive until the flushes finish

  ErrorLog error_log_;
  const std::shared_ptr<const PortAnaStates> ana_;  ///< Set in the constructor; null without ANA
  ReservationLog reservation_log_;
  bool reservation_notice_masked_ = false;  ///< Admin reactor: until log 80h is read
};

}  // namespace nvmf::target
