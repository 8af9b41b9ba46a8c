#include "initiator/controller.hpp"

#include <algorithm>
#include <cstring>
#include <optional>
#include <stdexcept>

#include "fabric/log.hpp"
#include "initiator/admin_turns.hpp"
#include "initiator/commands.hpp"
#include "initiator/dhchap_auth.hpp"
#include "initiator/sync_command.hpp"
#include "initiator/tls_options.hpp"
#include "initiator/transport_factory.hpp"
#include "nvme/fabrics.hpp"

namespace nvmf::initiator {

namespace {
using Clock = std::chrono::steady_clock;
using fabric::DataDirection;

// When MDTS is 0 (no limit) the host still needs a transfer size to split at; SPDK caps at 128 KiB per request
// unless told otherwise, the Linux host at max_hw_sectors. 1 MiB keeps large sequential I/O in one command.
constexpr std::uint32_t kUnlimitedTransferCap = 1u << 20;

// Property CC written at enable: 64-byte SQEs and 16-byte CQEs (2^6, 2^4), 4 KiB pages (MPS 0), round robin;
// CSS 6h ("all supported I/O command sets") when CAP.CSS advertises it, else NVM, as the Linux host does.
std::uint32_t make_cc(std::uint64_t cap) {
  std::uint32_t cc = 6u << NVME_CC_IOSQES_SHIFT | 4u << NVME_CC_IOCQES_SHIFT;
  if (NVME_CAP_CSS(cap) & NVME_CAP_CSS_CSI) cc |= std::uint32_t(NVME_CC_CSS_CSI) << NVME_CC_CSS_SHIFT;
  return cc;
}

// Connect Invalid Parameters (82h) names the bad field in DW0: IATTR bit 0 (0 command, 1 data), IPO 31:16.
std::string connect_failure(const std::string& what, const nvme::Cqe& cqe, nvme::Status status) {
  std::string text = what + ": " + status.to_string(/*fabrics=*/true);
  if (status.sct() == NVME_SCT_CMD_SPECIFIC && status.sc() == NVME_SC_CONNECT_INVALID_PARAM) {
    text += (cqe.dw0 & 1) ? " (in the Connect data at byte " : " (in the Connect command at byte ";
    text += std::to_string(cqe.dw0 >> 16) + ")";
  }
  return text;
}
}  // namespace

Controller::Controller(fabric::Reactor& reactor, std::unique_ptr<fabric::Reactor> owned,
                       const ControllerOptions& options)
    : owned_reactor_(std::move(owned)), reactor_(&reactor), options_(options),
      id_ctrl_(std::make_unique<nvme_id_ctrl>()) {
  if (options_.subnqn.empty()) options_.subnqn = nvme::kDiscoveryNqn;
  if (options_.trsvcid.empty())
    options_.trsvcid = std::to_string(options_.subnqn == nvme::kDiscoveryNqn ? nvme::kDiscoveryPort : nvme::kIoPort);
  std::memset(id_ctrl_.get(), 0, sizeof(nvme_id_ctrl));
  association_ = std::make_shared<AssociationState>(
      [this](fabric::Reactor& reactor, std::uint16_t qid, std::uint16_t depth, Error* error) {
        return connect_io_queue(reactor, qid, depth, error);
      },
      options_.reconnect_delay);
}

std::unique_ptr<Controller> Controller::connect(fabric::Reactor& reactor, const ControllerOptions& options,
                                                Error* error) {
  std::unique_ptr<Controller> ctrl(new Controller(reactor, nullptr, options));
  Error e = ctrl->bring_up();
  if (e) {
    if (error) *error = e;
    return nullptr;
  }
  return ctrl;
}

std::unique_ptr<Controller> Controller::connect(const ControllerOptions& options, Error* error) {
  auto reactor = std::make_unique<fabric::Reactor>(0);
  fabric::Reactor& r = *reactor;
  std::unique_ptr<Controller> ctrl(new Controller(r, std::move(reactor), options));
  Error e = ctrl->bring_up();
  if (e) {
    if (error) *error = e;
    return nullptr;
  }
  return ctrl;
}

Controller::~Controller() {
  if (!shut_down_) shutdown();
  tear_down_admin();
}

void Controller::tear_down_admin() {
  keep_alive_.stop();
  async_events_.stop();
  if (admin_) admin_->close();
  admin_.reset();
}

Error Controller::bring_up() {
  try {
    host_ = resolve_host_identity(options_.hostnqn, options_.hostid);
    dhchap_ = host_credentials(options_.dhchap_secret, options_.dhchap_ctrl_secret);
  } catch (const std::invalid_argument& e) {
    return Error{nvme::Status::generic(NVME_SC_INVALID_FIELD), e.what()};
  }
  if ((options_.tls || !options_.tls_key.empty()) && !tls_) {
    std::string why;
    tls_ = make_tls_client(options_, host_.hostnqn, &why);
    if (!tls_) return Error{nvme::Status::generic(NVME_SC_INVALID_FIELD), why};
  }
  if (Error e = establish()) {
    tear_down_admin();
    return e;
  }
  association_->set_live(cntlid_);
  state_ = State::live;
  return {};
}

Error Controller::reauthenticate() {
  if (!dhchap_) return Error{nvme::Status::generic(NVME_SC_INVALID_FIELD), "re-authentication needs a DH-HMAC-CHAP secret"};
  if (!admin_ || !alive()) return Error{kHostPathError, "controller is not connected"};
  return run_dhchap(*admin_, *dhchap_, host_.hostnqn, options_.subnqn, "admin queue", options_.admin_timeout);
}

Error Controller::establish() {
  if (Error e = connect_admin_queue()) return e;
  if (Error e = enable()) return e;

  nvme::Status s = admin_command(make_identify(NVME_IDENTIFY_CNS_CTRL, 0), id_ctrl_.get(), sizeof(nvme_id_ctrl),
                                 DataDirection::controller_to_host);
  if (!s.ok()) return step_failed("Identify Controller", s);
  discovery_ = options_.subnqn == nvme::kDiscoveryNqn || id_ctrl_->cntrltype == NVME_CTRL_CNTRLTYPE_DISCOVERY;

  const std::uint32_t page = 4096u << NVME_CAP_MPSMIN(cap_);
  const unsigned shift = id_ctrl_->mdts;
  max_transfer_ = (shift == 0 || shift > 18) ? kUnlimitedTransferCap
                                              : std::min<std::uint64_t>(std::uint64_t(page) << shift, 1u << 30);

  const std::uint32_t ioccsz = id_ctrl_->ioccsz;
  io_in_capsule_.store(ioccsz >= 4 ? ioccsz * 16 - 64 : 0);  // IOCCSZ counts the 64-byte SQE too (NVMe-oF 4.1)

  if (!discovery_) {
    if (Error e = negotiate_io_queues()) return e;
    if (Error e = refresh_namespaces()) return e;
  }
  if (Error e = configure_async_events()) return e;
  if (options_.keep_alive_timeout_ms > 0)
    keep_alive_.start(*admin_, std::chrono::milliseconds(std::max<std::uint32_t>(options_.keep_alive_timeout_ms / 2, 1)));
  return {};
}

Error Controller::configure_async_events() {
  // Enable the notices both sides know (Set Features 0Bh, as the Linux host: namespace attribute changes on
  // I/O controllers, discovery log changes on a persistent discovery connection), then post the request.
  // A one-shot discovery (KATO 0, like `nvme discover`) asks for nothing.
  // ANA change notices too where the controller reports ANA (MultipathSet re-reads log 0Ch on them).
  std::uint32_t wanted = discovery_ ? (options_.keep_alive_timeout_ms ? NVME_CTRL_OAES_DL : 0)
                                    : std::uint32_t(NVME_CTRL_OAES_NA) | std::uint32_t(NVME_CTRL_OAES_ANA);
  wanted &= id_ctrl_->oaes;
  if (wanted == 0) return {};
  nvme::Status s = admin_command(make_set_features(NVME_FEAT_FID_ASYNC_EVENT, wanted), nullptr, 0, DataDirection::none);
  if (!s.ok()) return step_failed("Set Features Asynchronous Event Configuration", s);
  async_events_.start(*admin_);
  return {};
}

Error Controller::connect_admin_queue() {
  fabric::HostQueueOptions qo;
  qo.traddr = options_.traddr;
  qo.trsvcid = options_.trsvcid;
  qo.header_digest = options_.header_digest;
  qo.data_digest = options_.data_digest;
  qo.queue_depth = kAdminQueueDepth;
  qo.tls = tls_;
  qo.connect_timeout = options_.connect_timeout;
  const std::string where = options_.transport + ":" + options_.traddr + ":" + options_.trsvcid;
  std::string why;
  admin_ = connect_host_queue(options_.transport, *reactor_, qo, 0, nvme::kDynamicCntlid, kAdminInCapsule, &why);
  if (!admin_) return Error{kHostPathError, "connect to " + where + ": " + why};

  // Connect (NVMe-oF 3.3): QID 0, SQSIZE 31 (32 entries, the Linux admin queue), dynamic controller.
  nvmf_connect_data data = make_connect_data(host_.hostid, nvme::kDynamicCntlid, options_.subnqn, host_.hostnqn);
  nvme::Cqe cqe{};
  nvme::Status s = execute_sync(*admin_, make_connect(0, kAdminQueueDepth - 1, options_.keep_alive_timeout_ms), &data,
                                sizeof data, DataDirection::host_to_controller, options_.admin_timeout, &cqe);
  if (!s.ok())
    return Error{s, connect_failure("Connect (admin queue) to " + options_.subnqn + " at " + where, cqe, s)};
  cntlid_ = static_cast<std::uint16_t>(cqe.dw0 & 0xffff);
  return authenticate_after_connect(*admin_, cqe.dw0, dhchap_, host_.hostnqn, options_.subnqn, "admin queue",
                                    options_.admin_timeout);
}

std::unique_ptr<fabric::HostQueue> Controller::connect_io_queue(fabric::Reactor& reactor, std::uint16_t qid,
                                                                std::uint16_t size, Error* error) {
  fabric::HostQueueOptions qo;
  qo.traddr = options_.traddr;
  qo.trsvcid = options_.trsvcid;
  qo.header_digest = options_.header_digest;
  qo.data_digest = options_.data_digest;
  qo.queue_depth = size;
  qo.tls = tls_;
  qo.connect_timeout = options_.connect_timeout;
  // Keep-alive keeps flowing while this queue connects on another reactor of the admin thread.
  std::optional<AdminTurns> admin_turns;
  if (std::this_thread::get_id() == admin_thread_) admin_turns.emplace(reactor, *reactor_);
  const std::uint16_t cntlid = association_->cntlid();
  std::string why;
  // Fabrics commands (the Connect) may carry 8 KiB in-capsule on any queue; I/O writes only IOCCSZ's share.
  auto queue = connect_host_queue(options_.transport, reactor, qo, qid, cntlid, kAdminInCapsule, &why);
  if (!queue) {
    *error = Error{kHostPathError, "I/O queue " + std::to_string(qid) + ": " + why};
    return nullptr;
  }
  nvmf_connect_data data = make_connect_data(host_.hostid, cntlid, options_.subnqn, host_.hostnqn);
  nvme::Cqe cqe{};
  nvme::Status s = execute_sync(*queue, make_connect(qid, static_cast<std::uint16_t>(size - 1), 0), &data,
                                sizeof data, DataDirection::host_to_controller, options_.admin_timeout, &cqe);
  if (!s.ok()) {
    queue->close();
    *error = Error{s, connect_failure("Connect (I/O queue " + std::to_string(qid) + ")", cqe, s)};
    return nullptr;
  }
  if (Error e = authenticate_after_connect(*queue, cqe.dw0, dhchap_, host_.hostnqn, options_.subnqn,
                                           "I/O queue " + std::to_string(qid), options_.admin_timeout)) {
    queue->close();
    *error = e;
    return nullptr;
  }
  queue->set_in_capsule_limit(io_in_capsule_.load());
  return queue;
}

Error Controller::enable() {
  nvme::Status s = property_get(NVME_REG_CAP, true, &cap_);
  if (!s.ok()) return step_failed("Property Get CAP", s);
  std::uint64_t cc = 0;
  s = property_get(NVME_REG_CC, false, &cc);
  if (!s.ok()) return step_failed("Property Get CC", s);
  if (NVME_CC_EN(cc)) {
    // A controller left enabled by someone else: disable first, as a reset would (NVMe base 3.5.3).
    s = property_set(NVME_REG_CC, cc & ~std::uint64_t(1), false);
    if (!s.ok()) return step_failed("Property Set CC.EN=0", s);
    if (Error e = wait_ready(false)) return e;
  }
  cc_ = make_cc(cap_);
  s = property_set(NVME_REG_CC, cc_, false);
  if (!s.ok()) return step_failed("Property Set CC (EN=0)", s);
  cc_ |= 1u << NVME_CC_EN_SHIFT;
  s = property_set(NVME_REG_CC, cc_, false);
  if (!s.ok()) return step_failed("Property Set CC (EN=1)", s);
  if (Error e = wait_ready(true)) return e;
  std::uint64_t vs = 0;
  s = property_get(NVME_REG_VS, false, &vs);
  if (!s.ok()) return step_failed("Property Get VS", s);
  vs_ = static_cast<std::uint32_t>(vs);
  return {};
}

Error Controller::wait_ready(bool ready) {
  // CAP.TO is the worst case in 500 ms units for CSTS.RDY to follow CC.EN (NVMe base 3.1.4.1).
  const auto timeout = std::chrono::milliseconds(500) * std::max<unsigned>(NVME_CAP_TO(cap_), 1);
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    std::uint64_t csts = 0;
    nvme::Status s = property_get(NVME_REG_CSTS, false, &csts);
    if (!s.ok()) return step_failed("Property Get CSTS", s);
    if (NVME_CSTS_CFS(csts)) return Error{kHostPathError, "controller reports fatal status (CSTS.CFS)"};
    if (bool(NVME_CSTS_RDY(csts)) == ready) return {};
    if (Clock::now() >= deadline)
      return Error{kAbortedByHost, std::string("CSTS.RDY did not become ") + (ready ? "1" : "0") + " within CAP.TO (" +
                                       std::to_string(timeout.count()) + " ms)"};
    reactor_->run_once(std::chrono::milliseconds(5));
  }
}

Error Controller::negotiate_io_queues() {
  io_queues_granted_ = 0;
  if (options_.nr_io_queues == 0) return {};
  nvme::Cqe cqe{};
  nvme::Status s = admin_command(make_set_number_of_queues(options_.nr_io_queues), nullptr, 0, DataDirection::none,
                                 &cqe);
  if (!s.ok()) return step_failed("Set Features Number of Queues", s);
  // DW0: NSQA 15:0 and NCQA 31:16, both 0's based; the controller may grant fewer or more than asked.
  const unsigned nsqa = (cqe.dw0 & 0xffff) + 1u, ncqa = (cqe.dw0 >> 16) + 1u;
  const auto granted = static_cast<std::uint16_t>(std::min<unsigned>({options_.nr_io_queues, nsqa, ncqa}));
  std::lock_guard lock(qid_mutex_);
  if (!queues_negotiated_) {
    io_queues_granted_ = granted;
    qid_in_use_.assign(io_queues_granted_, false);
    queues_negotiated_ = true;
  } else if (granted < io_queues_granted_) {
    // A reconnect granted fewer: queues above the new count fail their Connect and report it.
    NVMF_LOG(warn, "controller now grants %u I/O queues, %u before", granted, io_queues_granted_);
  }
  return {};
}

Error Controller::refresh_namespaces() {
  std::vector<std::uint32_t> nsids;
  std::vector<std::uint32_t> list(1024);
  std::uint32_t start = 0;
  for (;;) {
    // Active Namespace ID list (CNS 02h): up to 1024 NSIDs greater than `start`, zero-terminated.
    std::fill(list.begin(), list.end(), 0);
    nvme::Status s = admin_command(make_identify(NVME_IDENTIFY_CNS_NS_ACTIVE_LIST, start), list.data(),
                                   NVME_IDENTIFY_DATA_SIZE, DataDirection::controller_to_host);
    if (!s.ok()) return step_failed("Identify Active Namespace List", s);
    std::size_t n = 0;
    while (n < list.size() && list[n] != 0) nsids.push_back(list[n++]);
    if (n < list.size()) break;
    start = list.back();
  }

  std::vector<Namespace> found;
  auto id = std::make_unique<nvme_id_ns>();
  for (std::uint32_t nsid : nsids) {
    nvme::Status s = identify_namespace(nsid, id.get());
    if (!s.ok()) return step_failed("Identify Namespace " + std::to_string(nsid), s);
    std::string why;
    if (auto ns = namespace_from_identify(nsid, *id, max_transfer_, &why))
      found.push_back(*ns);
    else
      NVMF_LOG(warn, "skipping %s", why.c_str());
  }
  // Keep the list (and references into it) when nothing changed, as after most reconnects.
  auto same = [](const Namespace& a, const Namespace& b) {
    return a.nsid == b.nsid && a.block_size == b.block_size && a.capacity_blocks == b.capacity_blocks &&
           a.max_transfer_blocks == b.max_transfer_blocks;
  };
  if (!std::equal(found.begin(), found.end(), namespaces_.begin(), namespaces_.end(), same))
    namespaces_ = std::move(found);
  return {};
}

nvme::Status Controller::identify_namespace(std::uint32_t nsid, nvme_id_ns* out) {
  return admin_command(make_identify(NVME_IDENTIFY_CNS_NS, nsid), out, sizeof(nvme_id_ns),
                       DataDirection::controller_to_host);
}

nvme::Status Controller::admin_command(const nvme::Sqe& sqe, void* data, std::uint32_t length,
                                       fabric::DataDirection dir, nvme::Cqe* cqe) {
  if (!admin_) return kHostPathError;
  return execute_sync(*admin_, sqe, data, length, dir, options_.admin_timeout, cqe);
}

nvme::Status Controller::get_log_page(std::uint8_t lid, std::uint32_t nsid, void* buf, std::uint32_t length,
                                      std::uint64_t offset, bool rae) {
  if (length % 4 != 0 || length == 0) return nvme::Status::generic(NVME_SC_INVALID_FIELD);
  auto* bytes = static_cast<std::uint8_t*>(buf);
  const std::uint32_t chunk_max = max_transfer_ & ~3u;
  while (length > 0) {
    std::uint32_t n = std::min(length, chunk_max);
    nvme::Status s = admin_command(make_get_log_page(lid, nsid, n, offset, rae), bytes, n,
                                   DataDirection::controller_to_host);
    if (!s.ok()) return s;
    bytes += n;
    offset += n;
    length -= n;
  }
  return {};
}

nvme::Status Controller::property_get(std::uint32_t offset, bool eight_bytes, std::uint64_t* value) {
  nvme::Cqe cqe{};
  nvme::Status s = admin_command(make_property_get(offset, eight_bytes), nullptr, 0, DataDirection::none, &cqe);
  if (s.ok() && value) *value = eight_bytes ? cqe.result64() : cqe.dw0;
  return s;
}

nvme::Status Controller::property_set(std::uint32_t offset, std::uint64_t value, bool eight_bytes) {
  return admin_command(make_property_set(offset, value, eight_bytes), nullptr, 0, DataDirection::none);
}

Error Controller::shutdown() {
  if (shut_down_) return {};
  shut_down_ = true;
  keep_alive_.stop();
  if (state_ != State::live || !admin_ || !admin_->alive() || !(cc_ & 1)) {
    tear_down_admin();
    if (state_ == State::reconnecting) {
      state_ = State::failed;
      association_->set_failed();  // I/O queues still waiting fail their commands
    }
    return {};
  }
  if (unsigned n = live_io_queues_.load()) NVMF_LOG(warn, "shutting down with %u I/O queue(s) still open", n);
  async_events_.quiesce();

  // Normal shutdown (NVMe base 3.6.1): CC.SHN = 01b, then CSTS.SHST = 10b. RTD3E bounds it when reported; the
  // Linux host waits at least its shutdown_timeout (5 s).
  Error result;
  nvme::Status s = property_set(NVME_REG_CC, cc_ | std::uint32_t(NVME_CC_SHN_NORMAL) << NVME_CC_SHN_SHIFT, false);
  if (!s.ok()) {
    result = step_failed("Property Set CC.SHN", s);
  } else {
    const auto timeout = std::max(std::chrono::milliseconds(5000),
                                  std::chrono::milliseconds(std::uint64_t(id_ctrl_->rtd3e) / 1000));
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      std::uint64_t csts = 0;
      s = property_get(NVME_REG_CSTS, false, &csts);
      if (!s.ok()) {
        result = step_failed("Property Get CSTS during shutdown", s);
        break;
      }
      if (NVME_CSTS_SHST(csts) == NVME_CSTS_SHST_CMPLT) break;
      if (Clock::now() >= deadline) {
        result = Error{kAbortedByHost, "shutdown did not complete (CSTS.SHST) within " +
                                           std::to_string(timeout.count()) + " ms"};
        break;
      }
      reactor_->run_once(std::chrono::milliseconds(5));
    }
  }
  tear_down_admin();
  return result;
}

std::uint16_t Controller::allocate_qid() {
  std::lock_guard lock(qid_mutex_);
  for (std::size_t i = 0; i < qid_in_use_.size(); ++i) {
    if (!qid_in_use_[i]) {
      qid_in_use_[i] = true;
      return static_cast<std::uint16_t>(i + 1);
    }
  }
  return 0;
}

void Controller::release_qid(std::uint16_t qid) {
  std::lock_guard lock(qid_mutex_);
  if (qid >= 1 && qid <= qid_in_use_.size()) qid_in_use_[qid - 1] = false;
}

std::uint16_t Controller::max_io_queue_size() const {
  return static_cast<std::uint16_t>(std::min<unsigned>(NVME_CAP_MQES(cap_) + 1u, 65535u));
}

std::uint32_t Controller::io_in_capsule_limit() const { return io_in_capsule_.load(); }

std::unique_ptr<IoQueue> Controller::create_io_queue(fabric::Reactor& reactor, Error* error,
                                                     std::uint16_t queue_size) {
  auto fail = [&](Error e) -> std::unique_ptr<IoQueue> {
    if (error) *error = std::move(e);
    return nullptr;
  };
  if (discovery_) return fail(Error{nvme::Status::generic(NVME_SC_INVALID_FIELD), "a discovery controller has no I/O queues"});
  if (!alive()) return fail(Error{kHostPathError, "controller is not connected"});
  const std::uint16_t qid = allocate_qid();
  if (qid == 0)
    return fail(Error{nvme::Status::generic(NVME_SC_INVALID_FIELD),
                      "all " + std::to_string(io_queues_granted_) + " granted I/O queues are in use"});

  std::uint16_t size = queue_size ? queue_size : options_.io_queue_size;
  size = std::clamp<std::uint16_t>(size, 2, max_io_queue_size());
  const std::uint32_t generation = association_->generation();
  Error e;
  auto queue = connect_io_queue(reactor, qid, size, &e);
  if (!queue) {
    release_qid(qid);
    return fail(std::move(e));
  }
  live_io_queues_.fetch_add(1);
  auto io = std::make_unique<IoQueue>(std::move(queue), qid, options_.io_timeout, [this, qid] {
    release_qid(qid);
    live_io_queues_.fetch_sub(1);
  });
  io->attach_association(association_, generation);
  if (dhchap_)
    io->set_reauthenticator([credentials = *dhchap_, hostnqn = host_.hostnqn, subnqn = options_.subnqn,
                             what = "I/O queue " + std::to_string(qid),
                             timeout = options_.admin_timeout](fabric::HostQueue& queue) {
      return run_dhchap(queue, credentials, hostnqn, subnqn, what, timeout);
    });
  // A queue on the admin reactor is driven by the same thread: let it run the controller's recovery too.
  if (&reactor == reactor_) io->set_admin_hook([this] { maintain(); });
  return io;
}

void Controller::poll(std::chrono::milliseconds max_wait) {
  reactor_->run_once(state_ == State::live ? max_wait : std::min(max_wait, std::chrono::milliseconds(10)));
  maintain();
}

bool Controller::alive() const {
  return state_ == State::live && admin_ && admin_->alive() && !shut_down_ && !keep_alive_.failed();
}

const Namespace* Controller::find_namespace(std::uint32_t nsid) const {
  for (const auto& ns : namespaces_)
    if (ns.nsid == nsid) return &ns;
  return nullptr;
}

}  // namespace nvmf::initiator
