// Fabrics Connect (fctype 01h): creates a controller (admin queue, QID 0) or adds an I/O queue to one. Status
// codes and the IATTR/IPO result follow the NVMe-oF spec (Connect response) and nvmet's fabrics-cmd.c.
// An empty Host NQN (SPDK's host tools send one, with a zero Host ID) is a host like any other where any host is
// allowed, as in nvmet (allow_any_host) and SPDK's target; it never matches an allowed-host list, a namespace's
// host list or a per-host configuration, so it sees only what every host sees.
// Every refusal is logged at info (the default level) with its reason and the Fabrics meaning of its status.
#include <algorithm>
#include <cstring>
#include <string>

#include "fabric/log.hpp"
#include "nvme/fabrics.hpp"
#include "target/controller.hpp"
#include "target/queue_session.hpp"

namespace nvmf::target {

namespace {
/// Connect Invalid Parameters result (DW0): IATTR bit 16 (0: the SQE, 1: the Connect data), IPO bits 15:0
/// the byte offset of the offending field.
constexpr std::uint32_t ipo_sqe(std::size_t offset) { return static_cast<std::uint32_t>(offset); }
constexpr std::uint32_t ipo_data(std::size_t offset) { return 1u << 16 | static_cast<std::uint32_t>(offset); }

nvme::Status invalid_parameters() { return nvme::Status::command_specific(NVME_SC_CONNECT_INVALID_PARAM); }

bool nul_terminated(const char* field, std::size_t size) { return std::memchr(field, '\0', size) != nullptr; }

/// A Connect data NQN for a log line: bounded even when not NUL-terminated, visible when empty, and with control
/// bytes shown as '?' so that a host cannot forge log lines.
std::string printable_nqn(const char* field, std::size_t size) {
  std::string out(field, strnlen(field, size));
  if (out.empty()) return "(empty)";
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = '?';
  return out;
}
}  // namespace

void QueueSession::log_connect_refusal(const fabric::ControllerRequest& req, nvme::Status status,
                                       const char* reason) const {
  const auto cmd = nvme::fabrics_view<nvme::ConnectCommand>(req.sqe);
  std::string host = "?";
  std::string subsystem = "?";
  // The Connect data is there once fetched (or in the capsule); a refusal before that names neither NQN.
  if (req.data && req.data_ready && req.data_length == sizeof(nvmf_connect_data)) {
    nvmf_connect_data data;
    std::memcpy(&data, req.data, sizeof data);
    host = printable_nqn(data.hostnqn, sizeof data.hostnqn);
    subsystem = printable_nqn(data.subsysnqn, sizeof data.subsysnqn);
  }
  NVMF_LOG(info, "connect from %s (host %s, subsystem %s, qid %u) refused: %s: %s",
           queue_.peer_address().c_str(), host.c_str(), subsystem.c_str(), cmd.qid, reason,
           status.to_string(/*fabrics=*/true).c_str());
}

void QueueSession::refuse_connect(fabric::ControllerRequest& req, nvme::Status status, std::uint32_t dw0,
                                  const char* reason) {
  log_connect_refusal(req, status, reason);
  reject(req, status, dw0);
}

void QueueSession::begin_connect(fabric::ControllerRequest& req) {
  // The Connect data is exactly 1024 bytes (nvmet_check_transfer_len).
  if (req.direction != fabric::DataDirection::host_to_controller || req.data_length != sizeof(nvmf_connect_data) ||
      !req.data)
    return refuse_connect(req, nvme::Status::generic(NVME_SC_SGL_INVALID_DATA), 0,
                          "the Connect data is not 1024 bytes from host to controller");
  state_ = SessionState::connecting;
  if (!req.data_ready) return queue_.fetch_data(req);
  finish_connect(req);
}

void QueueSession::finish_connect(fabric::ControllerRequest& req) {
  state_ = SessionState::awaiting_connect;  // until it succeeds
  if (!req.status().ok()) return refuse_connect(req, req.status(), 0, "the Connect data could not be fetched");
  const auto cmd = nvme::fabrics_view<nvme::ConnectCommand>(req.sqe);
  nvmf_connect_data data;
  std::memcpy(&data, req.data, sizeof data);

  if (cmd.recfmt != 0)
    return refuse_connect(req, nvme::Status::command_specific(NVME_SC_CONNECT_FORMAT), 0,
                          "record format (RECFMT) is not 0");
  if (!nul_terminated(data.subsysnqn, sizeof data.subsysnqn))
    return refuse_connect(req, invalid_parameters(), ipo_data(offsetof(nvmf_connect_data, subsysnqn)),
                          "the subsystem NQN is not NUL-terminated");
  // An empty Host NQN passes here (nvmet, SPDK): whether it may connect is the subsystem's host list's call.
  if (!nul_terminated(data.hostnqn, sizeof data.hostnqn))
    return refuse_connect(req, invalid_parameters(), ipo_data(offsetof(nvmf_connect_data, hostnqn)),
                          "the host NQN is not NUL-terminated");

  auto subsystem = registry_->find(data.subsysnqn);
  if (!subsystem)
    return refuse_connect(req, invalid_parameters(), ipo_data(offsetof(nvmf_connect_data, subsysnqn)),
                          "unknown subsystem");
  // A port may serve only some subsystems (nvmetcli ports): elsewhere the subsystem does not exist, as with
  // nvmet_find_get_subsys.
  if (portid_ != 0 && subsystem->kind() == SubsystemKind::nvm) {
    auto port = registry_->port(portid_);
    if (!port || !port->serves(subsystem->nqn())) {
      const std::string reason = "the subsystem is not served on port " + std::to_string(portid_);
      return refuse_connect(req, invalid_parameters(), ipo_data(offsetof(nvmf_connect_data, subsysnqn)),
                            reason.c_str());
    }
  }
  if (!subsystem->host_allowed(data.hostnqn))
    return refuse_connect(req, nvme::Status::command_specific(NVME_SC_CONNECT_INVALID_HOST),
                          ipo_data(offsetof(nvmf_connect_data, hostnqn)),
                          data.hostnqn[0] == '\0' ? "the subsystem has an allowed-host list and the host NQN is empty"
                                                   : "the host is not on the subsystem's allowed-host list");
  if (cmd.qid == 0) return connect_admin(req, subsystem, data);
  connect_io(req, subsystem, data);
}

void QueueSession::connect_admin(fabric::ControllerRequest& req, const std::shared_ptr<Subsystem>& subsystem,
                                 const nvmf_connect_data& data) {
  const auto cmd = nvme::fabrics_view<nvme::ConnectCommand>(req.sqe);
  // Dynamic controller model: the host must ask for "any controller" (nvmet: IPO of cntlid).
  if (data.cntlid != nvme::kDynamicCntlid)
    return refuse_connect(req, invalid_parameters(), ipo_data(offsetof(nvmf_connect_data, cntlid)),
                          "an admin queue must ask for the dynamic controller (CNTLID FFFFh)");
  const std::uint32_t max_depth =
      std::min<std::uint32_t>(queue_.max_depth(), registry_->settings().limits.max_queue_depth);
  if (cmd.sqsize == 0 || cmd.sqsize + 1u > max_depth)
    return refuse_connect(req, invalid_parameters(), ipo_sqe(offsetof(nvme::ConnectCommand, sqsize)),
                          "SQSIZE is 0 or beyond the admin queue depth limit");

  const std::uint16_t cntlid = subsystem->reserve_cntlid();
  if (cntlid == 0)
    return refuse_connect(req, nvme::Status::command_specific(NVME_SC_CONNECT_CTRL_BUSY), 0,
                          "every controller ID of the subsystem is in use");
  HostInfo host;
  host.nqn = data.hostnqn;
  std::memcpy(host.id.data(), data.hostid, host.id.size());
  host.peer_address = queue_.peer_address();
  host.portid = portid_;
  auto controller = std::make_shared<Controller>(registry_, subsystem, cntlid, std::move(host), cmd.kato, queue_);
  subsystem->attach_controller(cntlid, controller);
  controller->start();
  admin_ = std::make_unique<AdminQueue>(queue_, controller);
  state_ = SessionState::admin;

  fabric::QueueParams params;
  params.qid = 0;
  params.depth = static_cast<std::uint16_t>(cmd.sqsize + 1);
  params.sq_flow_control_disabled = cmd.cattr & nvme::kConnectCattrDisableSqFlowControl;
  queue_.set_params(params);
  req.cqe.dw0 = cntlid;
  req.set_status(nvme::Status::success());
  queue_.complete(req);
}

void QueueSession::connect_io(fabric::ControllerRequest& req, const std::shared_ptr<Subsystem>& subsystem,
                              const nvmf_connect_data& data) {
  const auto cmd = nvme::fabrics_view<nvme::ConnectCommand>(req.sqe);
  auto controller = subsystem->find_controller(data.cntlid, data.hostnqn);
  if (!controller)
    return refuse_connect(req, invalid_parameters(), ipo_data(offsetof(nvmf_connect_data, cntlid)),
                          "no controller with this CNTLID for this host");
  // A discovery controller has no I/O queues; an I/O controller has as many as Set Features granted.
  const std::uint32_t granted = controller->number_of_queues_dw0();
  const std::uint16_t max_qid = controller->is_discovery()
                                    ? 0
                                    : static_cast<std::uint16_t>(std::min(granted & 0xFFFF, granted >> 16) + 1);
  if (cmd.qid > max_qid)
    return refuse_connect(req, invalid_parameters(), ipo_sqe(offsetof(nvme::ConnectCommand, qid)),
                          "QID beyond the I/O queues granted by Set Features Number of Queues");
  if (cmd.sqsize == 0 || cmd.sqsize > controller->mqes() || cmd.sqsize + 1u > queue_.max_depth())
    return refuse_connect(req, invalid_parameters(), ipo_sqe(offsetof(nvme::ConnectCommand, sqsize)),
                          "SQSIZE is 0 or beyond CAP.MQES or the transport's queue depth");

  auto io = std::make_unique<IoQueue>(queue_, controller, cmd.qid, static_cast<std::uint16_t>(cmd.sqsize + 1));
  // Not enabled yet, or the QID is taken: Command Sequence Error, with the CNTLID in DW0 as nvmet.
  if (nvme::Status st = io->attach(); !st.ok())
    return refuse_connect(req, st, controller->cntlid(), "the controller is not enabled or the QID is in use");
  io_ = std::move(io);
  state_ = SessionState::io;
  NVMF_LOG(debug, "controller %u: I/O queue %u (%u entries) connected from %s", controller->cntlid(), cmd.qid,
           cmd.sqsize + 1u, queue_.peer_address().c_str());

  fabric::QueueParams params;
  params.qid = cmd.qid;
  params.depth = static_cast<std::uint16_t>(cmd.sqsize + 1);
  params.sq_flow_control_disabled = cmd.cattr & nvme::kConnectCattrDisableSqFlowControl;
  queue_.set_params(params);
  req.cqe.dw0 = controller->cntlid();
  req.set_status(nvme::Status::success());
  queue_.complete(req);
}

}  // namespace nvmf::target
