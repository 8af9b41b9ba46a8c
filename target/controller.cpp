#include "target/controller.hpp"

#include <algorithm>
#include <cstring>

#include "fabric/log.hpp"
#include "target/io_queue.hpp"

namespace nvmf::target {

namespace {
constexpr std::uint32_t kNvmIoSqes = 6;  // 64-byte SQEs
constexpr std::uint32_t kNvmIoCqes = 4;  // 16-byte CQEs
constexpr std::uint32_t kCcWritableMask = 0x00FFFFF1;  // EN, CSS, MPS, AMS, SHN, IOSQES, IOCQES
// CAP.TO in 500 ms units: how long the host waits for CSTS.RDY; enabling is immediate here.
constexpr std::uint64_t kCapTimeout = 15;

std::uint16_t initial_mqes(const Registry& registry, const fabric::ControllerQueue& queue) {
  std::uint32_t depth = std::min<std::uint32_t>(registry.settings().limits.max_queue_depth, queue.max_depth());
  return static_cast<std::uint16_t>(std::max<std::uint32_t>(depth, 2) - 1);
}

// An empty Host NQN (SPDK's host tools) stays visible in log lines.
const char* shown_host(const std::string& nqn) { return nqn.empty() ? "(empty NQN)" : nqn.c_str(); }
}  // namespace

Controller::Controller(std::shared_ptr<Registry> registry, std::shared_ptr<Subsystem> subsystem,
                       std::uint16_t cntlid, HostInfo host, std::uint32_t kato_ms,
                       fabric::ControllerQueue& admin_queue)
    : registry_(std::move(registry)),
      subsystem_(std::move(subsystem)),
      cntlid_(cntlid),
      host_(std::move(host)),
      admin_queue_(admin_queue),
      admin_reactor_(admin_queue.reactor()),
      transport_type_(admin_queue.transport_type()),
      mqes_(initial_mqes(*registry_, admin_queue)),
      granted_sq_(is_discovery() ? 0 : registry_->settings().max_io_queues),
      granted_cq_(granted_sq_),
      visible_(subsystem_->namespaces()->visible_to(host_.nqn)),
      kato_ms_(kato_ms),
      timestamp_origin_(std::chrono::steady_clock::now()),
      ana_(!is_discovery() && ana_fits(limits().max_io_size) ? registry_->ana().port(host_.portid) : nullptr) {}

Controller::~Controller() = default;

std::uint64_t Controller::cap() const {
  std::uint64_t cap = 0;
  cap |= std::uint64_t(mqes_) << NVME_CAP_MQES_SHIFT;
  cap |= std::uint64_t(1) << NVME_CAP_CQR_SHIFT;  // fabrics: queues are always physically contiguous
  cap |= kCapTimeout << NVME_CAP_TO_SHIFT;
  // NVM command set, and I/O command set selection (CSS bit 6) as nvmet: the Linux host then writes CC.CSS = 6h
  // and reads the command set specific Identify (CNS 06h).
  cap |= std::uint64_t(NVME_CAP_CSS_NVM | NVME_CAP_CSS_CSI) << NVME_CAP_CSS_SHIFT;
  // DSTRD 0, MPSMIN 0 and MPSMAX 0 (4 KiB pages): MDTS is expressed in these units.
  return cap;
}

void Controller::start() {
  NVMF_LOG(info, "controller %u created: subsystem %s, host %s from %s, keep-alive %u ms", cntlid_,
           subsystem_->nqn().c_str(), shown_host(host_.nqn), host_.peer_address.c_str(), kato_ms_);
  arm_keep_alive_timer();
}

void Controller::arm_keep_alive_timer() {
  if (kato_timer_) admin_reactor_.cancel_timer(kato_timer_);
  kato_timer_ = 0;
  if (kato_ms_ == 0) return;
  host_seen_ = false;
  std::weak_ptr<Controller> weak = weak_from_this();
  // Checked once per KATO: the Linux host sends a Keep Alive every KATO/2, so a window without any admin
  // command means the host is gone (NVMe base spec, Keep Alive Timer).
  kato_timer_ = admin_reactor_.add_timer(std::chrono::milliseconds(kato_ms_), [weak] {
    auto self = weak.lock();
    if (!self || self->torn_down()) return;
    self->kato_timer_ = 0;
    if (self->host_seen_) return self->arm_keep_alive_timer();
    NVMF_LOG(warn, "controller %u: keep-alive timeout (%u ms) for host %s, tearing down", self->cntlid_,
             self->kato_ms_, shown_host(self->host_.nqn));
    self->admin_queue_.close();
  });
}

void Controller::teardown() {
  {
    std::lock_guard lock(mutex_);
    if (torn_down_) return;
    torn_down_ = true;
    act_on_io_queues_locked(IoQueueAction::close);
  }
  if (kato_timer_) admin_reactor_.cancel_timer(kato_timer_);
  kato_timer_ = 0;
  // The transport discards what follows its close; every held request must still be completed once.
  while (!held_aers_.empty()) {
    fabric::ControllerRequest* req = held_aers_.front();
    held_aers_.pop_front();
    req->set_status(nvme::Status::generic(NVME_SC_ABORT_QUEUE));
    req->queue->complete(*req);
  }
  subsystem_->release_cntlid(cntlid_);
  NVMF_LOG(info, "controller %u destroyed: subsystem %s, host %s from %s", cntlid_, subsystem_->nqn().c_str(),
           shown_host(host_.nqn), host_.peer_address.c_str());
}

void Controller::request_close() {
  std::weak_ptr<Controller> weak = weak_from_this();
  admin_reactor_.post([weak] {
    if (auto self = weak.lock(); self && !self->torn_down()) self->admin_queue_.close();
  });
}

bool Controller::torn_down() const {
  std::lock_guard lock(mutex_);
  return torn_down_;
}

// ---------------------------------------------------------------------------------------------------------------
// Registers

std::uint32_t Controller::cc() const {
  std::lock_guard lock(mutex_);
  return cc_;
}

ControllerState Controller::state() const {
  std::lock_guard lock(mutex_);
  return state_;
}

std::uint32_t Controller::csts() const {
  switch (state()) {
    case ControllerState::disabled:
      return 0;
    case ControllerState::ready:
      return 1u << NVME_CSTS_RDY_SHIFT;
    case ControllerState::fatal:
      return 1u << NVME_CSTS_CFS_SHIFT;
    case ControllerState::shutting_down:
      return 1u << NVME_CSTS_RDY_SHIFT | NVME_CSTS_SHST_OCCUR << NVME_CSTS_SHST_SHIFT;
    case ControllerState::shut_down:
      return NVME_CSTS_SHST_CMPLT << NVME_CSTS_SHST_SHIFT;
  }
  return 0;
}

bool Controller::ready() const { return state() == ControllerState::ready; }

nvme::Status Controller::get_property(std::uint32_t offset, bool eight_bytes, std::uint64_t& value) const {
  // NVMe-oF: CAP is the only 8-byte property we hold; VS, CC and CSTS are 4 bytes (as nvmet's prop_get).
  if (eight_bytes) {
    if (offset != NVME_REG_CAP) return nvme::Status::generic(NVME_SC_INVALID_FIELD);
    value = cap();
    return nvme::Status::success();
  }
  switch (offset) {
    case NVME_REG_VS:
      value = kVersion;
      return nvme::Status::success();
    case NVME_REG_CC:
      value = cc();
      return nvme::Status::success();
    case NVME_REG_CSTS:
      value = csts();
      return nvme::Status::success();
    default:
      return nvme::Status::generic(NVME_SC_INVALID_FIELD);
  }
}

nvme::Status Controller::set_property(std::uint32_t offset, bool eight_bytes, std::uint64_t value) {
  if (eight_bytes || offset != NVME_REG_CC) return nvme::Status::generic(NVME_SC_INVALID_FIELD);
  apply_cc(static_cast<std::uint32_t>(value) & kCcWritableMask);
  return nvme::Status::success();
}

bool Controller::cc_valid(std::uint32_t cc) const {
  // As nvmet_start_ctrl: 4 KiB pages, round robin, the NVM command set and, on I/O controllers, the only
  // SQ/CQ entry sizes fabrics know.
  if (NVME_CC_MPS(cc) != 0 || NVME_CC_AMS(cc) != NVME_CC_AMS_RR) return false;
  if (NVME_CC_CSS(cc) != NVME_CC_CSS_NVM && NVME_CC_CSS(cc) != NVME_CC_CSS_CSI) return false;
  if (!is_discovery() && (NVME_CC_IOSQES(cc) != kNvmIoSqes || NVME_CC_IOCQES(cc) != kNvmIoCqes)) return false;
  return true;
}

void Controller::apply_cc(std::uint32_t new_cc) {
  bool start_shutdown = false;
  {
    std::lock_guard lock(mutex_);
    const std::uint32_t old_cc = cc_;
    cc_ = new_cc;
    const bool en_old = NVME_CC_EN(old_cc), en_new = NVME_CC_EN(new_cc);
    const bool shn_old = NVME_CC_SHN(old_cc) != NVME_CC_SHN_NONE, shn_new = NVME_CC_SHN(new_cc) != NVME_CC_SHN_NONE;

    if (en_new && !en_old) {
      state_ = cc_valid(new_cc) ? ControllerState::ready : ControllerState::fatal;
      if (state_ == ControllerState::fatal)
        NVMF_LOG(warn, "controller %u: unsupported CC 0x%x, reporting CSTS.CFS", cntlid_, new_cc);
    }
    if (!en_new && en_old) {
      // Controller reset: the I/O queues are deleted (NVMe-oF: their connections are torn down).
      state_ = ControllerState::disabled;
      act_on_io_queues_locked(IoQueueAction::close);
    }
    if (shn_new && !shn_old && state_ != ControllerState::shutting_down) {
      state_ = ControllerState::shutting_down;
      act_on_io_queues_locked(IoQueueAction::disable);
      start_shutdown = true;
    }
    if (!shn_new && shn_old &&
        (state_ == ControllerState::shut_down || state_ == ControllerState::shutting_down)) {
      state_ = ControllerState::disabled;
    }
  }
  if (start_shutdown) begin_shutdown();
}

void Controller::begin_shutdown() {
  // Normal or abrupt shutdown: everything acknowledged must be durable before CSTS.SHST reads 2h.
  auto table = namespaces();
  shutdown_flushes_.assign(table->all().size(), BackendIo{});
  shutdown_flushes_left_ = shutdown_flushes_.size() + 1;  // +1 guards against inline completions
  shutdown_self_ = shared_from_this();
  for (std::size_t i = 0; i < table->all().size(); ++i) {
    BackendIo& io = shutdown_flushes_[i];
    io.context = this;
    io.done = [](BackendIo& done_io, int result) {
      static_cast<Controller*>(done_io.context)->finish_shutdown_flush(result);
    };
    table->all()[i]->backend->flush(admin_reactor_, io);
  }
  finish_shutdown_flush(0);
}

void Controller::finish_shutdown_flush(int result) {
  if (result < 0) NVMF_LOG(error, "controller %u: flush during shutdown failed: %d", cntlid_, result);
  if (--shutdown_flushes_left_ > 0) return;
  {
    std::lock_guard lock(mutex_);
    if (state_ == ControllerState::shutting_down) state_ = ControllerState::shut_down;
  }
  NVMF_LOG(debug, "controller %u: shutdown complete", cntlid_);
  admin_reactor_.defer([self = std::move(shutdown_self_)] {});
}

// ---------------------------------------------------------------------------------------------------------------
// I/O queues

nvme::Status Controller::attach_io_queue(std::uint16_t qid, IoQueue& queue, fabric::Reactor& reactor,
                                         std::uint64_t& token, std::shared_ptr<const NamespaceTable>& namespaces) {
  std::lock_guard lock(mutex_);
  namespaces = visible_;
  if (torn_down_ || state_ != ControllerState::ready) return nvme::Status::generic(NVME_SC_CMD_SEQ_ERROR);
  if (active_qids_.count(qid)) return nvme::Status::generic(NVME_SC_CMD_SEQ_ERROR);  // as nvmet_install_queue
  token = next_token_++;
  io_queues_.emplace(token, IoQueueLink{qid, queue.depth(), &queue, &reactor});
  active_qids_.emplace(qid, token);
  return nvme::Status::success();
}

void Controller::detach_io_queue(std::uint64_t token) {
  std::lock_guard lock(mutex_);
  auto it = io_queues_.find(token);
  if (it == io_queues_.end()) return;
  auto q = active_qids_.find(it->second.qid);
  if (q != active_qids_.end() && q->second == token) active_qids_.erase(q);
  io_queues_.erase(it);
}

std::size_t Controller::io_queue_count() const {
  std::lock_guard lock(mutex_);
  return active_qids_.size();
}

std::vector<std::pair<std::uint16_t, std::uint16_t>> Controller::io_queues() const {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<std::uint16_t, std::uint16_t>> out;
  for (const auto& [qid, token] : active_qids_)
    if (auto it = io_queues_.find(token); it != io_queues_.end()) out.emplace_back(qid, it->second.depth);
  return out;
}

void Controller::act_on_io_queues_locked(IoQueueAction action) {
  if (action == IoQueueAction::close) active_qids_.clear();
  for (auto& [token, link] : io_queues_) {
    std::weak_ptr<Controller> weak = weak_from_this();
    std::uint64_t t = token;
    link.reactor->post([weak, t, action] {
      auto self = weak.lock();
      if (!self) return;
      IoQueue* queue = nullptr;
      {
        std::lock_guard lock(self->mutex_);
        auto it = self->io_queues_.find(t);
        if (it == self->io_queues_.end()) return;
        queue = it->second.queue;
      }
      // Safe without the lock: a queue is destroyed only on this reactor, which is running this task.
      if (action == IoQueueAction::close)
        queue->close();
      else
        queue->disable();
    });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Features

nvme::Status Controller::set_number_of_queues(std::uint16_t nsqr, std::uint16_t ncqr, std::uint32_t& dw0) {
  // 0's based counts; FFFFh would ask for 65536 queues (NVMe base spec, Number of Queues).
  if (nsqr == 0xFFFF || ncqr == 0xFFFF) return nvme::Status::generic(NVME_SC_INVALID_FIELD);
  std::lock_guard lock(mutex_);
  // Only allowed before any I/O queue exists (NVMe base spec, Set Features Number of Queues).
  if (!active_qids_.empty()) return nvme::Status::generic(NVME_SC_CMD_SEQ_ERROR);
  const std::uint16_t max = registry_->settings().max_io_queues;
  granted_sq_ = static_cast<std::uint16_t>(std::min<std::uint32_t>(nsqr + 1u, max));
  granted_cq_ = static_cast<std::uint16_t>(std::min<std::uint32_t>(ncqr + 1u, max));
  dw0 = std::uint32_t(granted_cq_ - 1) << 16 | std::uint32_t(granted_sq_ - 1);
  return nvme::Status::success();
}

std::uint32_t Controller::number_of_queues_dw0() const {
  std::lock_guard lock(mutex_);
  if (granted_sq_ == 0 || granted_cq_ == 0) return 0;
  return std::uint32_t(granted_cq_ - 1) << 16 | std::uint32_t(granted_sq_ - 1);
}

std::uint32_t Controller::supported_async_events() const {
  // SMART critical warnings (bits 4:0) may be enabled even though nothing raises them here, as nvmet allows.
  constexpr std::uint32_t kSmartWarnings = 0x1F;
  if (is_discovery()) return NVME_CTRL_OAES_DL;
  return kSmartWarnings | NVME_CTRL_OAES_NA | (ana_reported() ? std::uint32_t(NVME_CTRL_OAES_ANA) : 0u);
}

nvme::Status Controller::set_async_event_config(std::uint32_t config) {
  if (config & ~supported_async_events()) return nvme::Status::generic(NVME_SC_INVALID_FIELD);
  aen_config_ = config;
  return nvme::Status::success();
}

void Controller::set_kato_ms(std::uint32_t kato_ms) {
  kato_ms_ = kato_ms;
  arm_keep_alive_timer();
}

void Controller::set_timestamp(std::uint64_t ms) {
  timestamp_base_ms_ = ms & 0xFFFFFFFFFFFFull;
  timestamp_set_ = true;
  timestamp_origin_ = std::chrono::steady_clock::now();
}

std::uint64_t Controller::timestamp_feature() const {
  auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                       timestamp_origin_);
  std::uint64_t ts = (timestamp_base_ms_ + static_cast<std::uint64_t>(elapsed.count())) & 0xFFFFFFFFFFFFull;
  // Byte 6: bits 3:1 Timestamp Origin (0: counted from reset, 1: set by a host); bit 0 Synch = 0.
  std::uint64_t attributes = timestamp_set_ ? 1u << 1 : 0;
  return ts | attributes << 48;
}

// ---------------------------------------------------------------------------------------------------------------
// Asynchronous events

bool Controller::hold_aer(fabric::ControllerRequest& req) {
  if (held_aers_.size() > kAerLimit) return false;
  held_aers_.push_back(&req);
  deliver_events();
  return true;
}

bool Controller::abort_held_aer(std::uint16_t cid) {
  auto it = std::find_if(held_aers_.begin(), held_aers_.end(),
                         [cid](const fabric::ControllerRequest* r) { return r->sqe.cid == cid; });
  if (it == held_aers_.end()) return false;
  fabric::ControllerRequest* req = *it;
  held_aers_.erase(it);
  req->set_status(nvme::Status::generic(NVME_SC_ABORT_REQ));
  req->queue->complete(*req);
  return true;
}

void Controller::abort_io_command(std::uint16_t sqid, std::uint16_t cid, std::function<void(bool)> done) {
  fabric::Reactor* reactor = &admin_reactor_;
  std::uint64_t token = 0;
  {
    std::lock_guard lock(mutex_);
    if (auto q = active_qids_.find(sqid); q != active_qids_.end()) {
      token = q->second;
      reactor = io_queues_.at(token).reactor;
    }
  }
  // The controller stays alive for the round trip: the admin request waiting for the answer holds the admin
  // queue, and with it the controller, until `done` completes it.
  reactor->post([self = shared_from_this(), token, cid, done = std::move(done)]() mutable {
    IoQueue* queue = nullptr;
    if (token != 0) {
      std::lock_guard lock(self->mutex_);
      if (auto it = self->io_queues_.find(token); it != self->io_queues_.end()) queue = it->second.queue;
    }
    // Safe without the lock: a queue is destroyed only on this reactor, which is running this task.
    const bool aborted = queue && queue->abort(cid);
    fabric::Reactor& admin = self->admin_reactor_;
    admin.post([aborted, done = std::move(done)] { done(aborted); });
  });
}

void Controller::notify_discovery_change() {
  if (!is_discovery()) return;
  std::weak_ptr<Controller> weak = weak_from_this();
  admin_reactor_.post([weak] {
    auto self = weak.lock();
    if (!self || self->torn_down()) return;
    self->raise_notice(NVME_CTRL_OAES_DL, self->discovery_notice_masked_,
                       NVME_AER_NOTICE | NVME_AER_NOTICE_DISC_CHANGED << 8 | NVME_LOG_LID_DISCOVER << 16);
  });
}

void Controller::discovery_log_read(bool rae) {
  if (!rae) discovery_notice_masked_ = false;
}

// ---------------------------------------------------------------------------------------------------------------
// Namespaces

std::shared_ptr<const NamespaceTable> Controller::namespaces() const {
  std::lock_guard lock(mutex_);
  return visible_;
}

void Controller::refresh_namespaces() {
  if (is_discovery()) return;
  std::weak_ptr<Controller> weak = weak_from_this();
  admin_reactor_.post([weak] {
    if (auto self = weak.lock(); self && !self->torn_down()) self->apply_namespace_refresh();
  });
}

void Controller::apply_namespace_refresh() {
  auto fresh = subsystem_->namespaces()->visible_to(host_.nqn);
  std::shared_ptr<const NamespaceTable> old;
  {
    std::lock_guard lock(mutex_);
    old = visible_;
    visible_ = fresh;
    // Every I/O queue switches to the new table on its own reactor; commands already running keep the
    // namespace they started with (IoQueue::set_namespaces keeps the old table until they finish).
    for (auto& [token, link] : io_queues_) {
      std::weak_ptr<Controller> weak = weak_from_this();
      std::uint64_t t = token;
      link.reactor->post([weak, t, fresh] {
        auto self = weak.lock();
        if (!self) return;
        IoQueue* queue = nullptr;
        {
          std::lock_guard inner(self->mutex_);
          auto it = self->io_queues_.find(t);
          if (it == self->io_queues_.end()) return;
          queue = it->second.queue;
        }
        queue->set_namespaces(fresh);
      });
    }
  }
  // A namespace changed for this host when it appeared, disappeared or was replaced (resized).
  std::vector<std::uint32_t> changed;
  for (const auto& ns : old->all())
    if (fresh->find(ns->nsid) != ns.get()) changed.push_back(ns->nsid);
  for (const auto& ns : fresh->all())
    if (!old->find(ns->nsid)) changed.push_back(ns->nsid);
  if (changed.empty()) return;
  for (std::uint32_t nsid : changed) {
    auto it = std::lower_bound(changed_nsids_.begin(), changed_nsids_.end(), nsid);
    if (it == changed_nsids_.end() || *it != nsid) changed_nsids_.insert(it, nsid);
  }
  NVMF_LOG(debug, "controller %u: %zu namespace(s) changed", cntlid_, changed.size());
  raise_notice(NVME_CTRL_OAES_NA, ns_notice_masked_,
               NVME_AER_NOTICE | NVME_AER_NOTICE_NS_CHANGED << 8 | NVME_LOG_LID_CHANGED_NS << 16);
}

std::vector<std::uint8_t> Controller::changed_namespace_log(bool rae) {
  nvme_ns_list list;
  std::memset(&list, 0, sizeof list);
  // More than 1024 changes: the first entry is FFFFFFFFh and the rest zero (NVMe base spec, log page 04h).
  if (changed_nsids_.size() > NVME_ID_NS_LIST_MAX) {
    list.ns[0] = NVME_NSID_ALL;
  } else {
    for (std::size_t i = 0; i < changed_nsids_.size(); ++i) list.ns[i] = changed_nsids_[i];
  }
  if (!rae) {
    changed_nsids_.clear();
    ns_notice_masked_ = false;
  }
  std::vector<std::uint8_t> out(sizeof list);
  std::memcpy(out.data(), &list, sizeof list);
  return out;
}

void Controller::raise_notice(std::uint32_t config_bit, bool& masked, std::uint32_t dw0) {
  // As nvmet_aen_bit_disabled: a disabled kind raises nothing; an enabled one raises once, then stays masked
  // until the host reads the log page that clears it.
  if (!(aen_config_ & config_bit) || masked) return;
  masked = true;
  queue_event(dw0);
}

void Controller::queue_event(std::uint32_t dw0) {
  // One event of each kind at a time: the host reads the log page to learn the rest.
  if (std::find(pending_events_.begin(), pending_events_.end(), dw0) == pending_events_.end())
    pending_events_.push_back(dw0);
  deliver_events();
}

void Controller::deliver_events() {
  while (!held_aers_.empty() && !pending_events_.empty()) {
    fabric::ControllerRequest* req = held_aers_.front();
    held_aers_.pop_front();
    req->cqe.dw0 = pending_events_.front();
    pending_events_.pop_front();
    req->set_status(nvme::Status::success());
    req->queue->complete(*req);
  }
}

void Controller::notify_reservation(ReservationEvent event, std::uint32_t nsid) {
  if (is_discovery() || !reservation_log_.add(event, nsid)) return;
  std::weak_ptr<Controller> weak = weak_from_this();
  admin_reactor_.post([weak] {
    auto self = weak.lock();
    if (!self || self->torn_down() || self->reservation_notice_masked_) return;
    // Not an AEC bit: the Reservation Notification Mask (82h) decides which events make a page, and a page makes
    // the event (NVMe Base spec, Asynchronous Event Information - I/O Command Specific Status).
    self->reservation_notice_masked_ = true;
    self->queue_event(NVME_AER_CSS | NVME_AER_CSS_NVM_RESERVATION << 8 | NVME_LOG_LID_RESERVATION << 16);
  });
}

std::vector<std::uint8_t> Controller::reservation_log_page(bool rae) {
  if (!rae) reservation_notice_masked_ = false;
  return reservation_log_.next_page();
}

void Controller::drain_namespace(std::uint32_t nsid, std::function<void()> done) {
  std::vector<std::pair<std::uint64_t, fabric::Reactor*>> queues;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [token, link] : io_queues_) queues.emplace_back(token, link.reactor);
  }
  if (queues.empty()) return done();
  auto left = std::make_shared<std::atomic<std::size_t>>(queues.size());
  auto finish = std::make_shared<std::function<void()>>(std::move(done));
  for (const auto& [token, reactor] : queues) {
    reactor->post([self = shared_from_this(), token = token, nsid, left, finish] {
      auto one_done = [left, finish] {
        if (left->fetch_sub(1) == 1) (*finish)();
      };
      bool found = false;
      self->with_io_queue(token, [&](IoQueue& queue) {
        found = true;
        queue.when_drained(nsid, one_done);
      });
      if (!found) one_done();
    });
  }
}

void Controller::with_io_queue(std::uint64_t token, const std::function<void(IoQueue&)>& fn) {
  IoQueue* queue = nullptr;
  {
    std::lock_guard lock(mutex_);
    if (auto it = io_queues_.find(token); it != io_queues_.end()) queue = it->second.queue;
  }
  // Safe without the lock: a queue is destroyed only on its own reactor, which is running this.
  if (queue) fn(*queue);
}

void Controller::record_error(const ErrorRecord& record) {
  error_log_.record(record, static_cast<std::uint8_t>(transport_type_));
}

}  // namespace nvmf::target
