// Fabrics Connect (fctype 01h): creates a controller (admin queue, QID 0) or adds an I/O queue to one. Status
// codes and the IATTR/IPO result follow the NVMe-oF spec (Connect response) and nvmet's fabrics-cmd.c.
#include <algorithm>
#include <cstring>

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
}  // namespace

void QueueSession::begin_connect(fabric::ControllerRequest& req) {
  // The Connect data is exactly 1024 bytes (nvmet_check_transfer_len).
  if (req.direction != fabric::DataDirection::host_to_controller || req.data_length != sizeof(nvmf_connect_data) ||
      !req.data)
    return reject(req, nvme::Status::generic(NVME_SC_SGL_INVALID_DATA));
  state_ = SessionState::connecting;
  if (!req.data_ready) return queue_.fetch_data(req);
  finish_connect(req);
}

void QueueSession::finish_connect(fabric::ControllerRequest& req) {
  state_ = SessionState::awaiting_connect;  // until it succeeds
  if (!req.status().ok()) return reject(req, req.status());
  const auto cmd = nvme::fabrics_view<nvme::ConnectCommand>(req.sqe);
  nvmf_connect_data data;
  std::memcpy(&data, req.data, sizeof data);

  if (cmd.recfmt != 0) return reject(req, nvme::Status::command_specific(NVME_SC_CONNECT_FORMAT));
  if (!nul_terminated(data.subsysnqn, sizeof data.subsysnqn))
    return reject(req, invalid_parameters(), ipo_data(offsetof(nvmf_connect_data, subsysnqn)));
  if (!nul_terminated(data.hostnqn, sizeof data.hostnqn) || data.hostnqn[0] == '\0')
    return reject(req, invalid_parameters(), ipo_data(offsetof(nvmf_connect_data, hostnqn)));

  auto subsystem = registry_->find(data.subsysnqn);
  if (!subsystem) {
    NVMF_LOG(info, "connect from %s (host %s) for unknown subsystem %s", queue_.peer_address().c_str(),
             data.hostnqn, data.subsysnqn);
    return reject(req, invalid_parameters(), ipo_data(offsetof(nvmf_connect_data, subsysnqn)));
  }
  // A port may serve only some subsystems (nvmetcli ports): elsewhere the subsystem does not exist, as with
  // nvmet_find_get_subsys.
  if (portid_ != 0 && subsystem->kind() == SubsystemKind::nvm) {
    auto port = registry_->port(portid_);
    if (!port || !port->serves(subsystem->nqn())) {
      NVMF_LOG(info, "connect from %s (host %s): subsystem %s is not served on port %u", queue_.peer_address().c_str(),
               data.hostnqn, data.subsysnqn, portid_);
      return reject(req, invalid_parameters(), ipo_data(offsetof(nvmf_connect_data, subsysnqn)));
    }
  }
  if (!subsystem->host_allowed(data.hostnqn)) {
    NVMF_LOG(info, "connect from %s: host %s is not allowed on %s", queue_.peer_address().c_str(), data.hostnqn,
             data.subsysnqn);
    return reject(req, nvme::Status::command_specific(NVME_SC_CONNECT_INVALID_HOST),
                  ipo_data(offsetof(nvmf_connect_data, hostnqn)));
  }
  // TLS: the Connect must name the host whose PSK authenticated the session (TP 8011); a host holding its own
  // key may not present another host's NQN.
  if (const std::string tls_host = queue_.secure_channel_host(); !tls_host.empty() && tls_host != data.hostnqn) {
    NVMF_LOG(warn, "connect from %s: host %s does not match the TLS PSK identity's host %s",
             queue_.peer_address().c_str(), data.hostnqn, tls_host.c_str());
    return reject(req, nvme::Status::command_specific(NVME_SC_CONNECT_INVALID_HOST),
                  ipo_data(offsetof(nvmf_connect_data, hostnqn)));
  }
  if (cmd.qid == 0) return connect_admin(req, subsystem, data);
  connect_io(req, subsystem, data);
}

void QueueSession::connect_admin(fabric::ControllerRequest& req, const std::shared_ptr<Subsystem>& subsystem,
                                 const nvmf_connect_data& data) {
  const auto cmd = nvme::fabrics_view<nvme::ConnectCommand>(req.sqe);
  // Dynamic controller model: the host must ask for "any controller" (nvmet: IPO of cntlid).
  if (data.cntlid != nvme::kDynamicCntlid)
    return reject(req, invalid_parameters(), ipo_data(offsetof(nvmf_connect_data, cntlid)));
  const std::uint32_t max_depth =
      std::min<std::uint32_t>(queue_.max_depth(), registry_->settings().limits.max_queue_depth);
  if (cmd.sqsize == 0 || cmd.sqsize + 1u > max_depth)
    return reject(req, invalid_parameters(), ipo_sqe(offsetof(nvme::ConnectCommand, sqsize)));

  const std::uint16_t cntlid = subsystem->reserve_cntlid();
  if (cntlid == 0) return reject(req, nvme::Status::command_specific(NVME_SC_CONNECT_CTRL_BUSY));
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
  req.cqe.dw0 = cntlid | require_authentication(controller, data.hostnqn, data.subsysnqn);
  req.set_status(nvme::Status::success());
  queue_.complete(req);
}

void QueueSession::connect_io(fabric::ControllerRequest& req, const std::shared_ptr<Subsystem>& subsystem,
                              const nvmf_connect_data& data) {
  const auto cmd = nvme::fabrics_view<nvme::ConnectCommand>(req.sqe);
  auto controller = subsystem->find_controller(data.cntlid, data.hostnqn);
  if (!controller) return reject(req, invalid_parameters(), ipo_data(offsetof(nvmf_connect_data, cntlid)));
  // A discovery controller has no I/O queues; an I/O controller has as many as Set Features granted.
  const std::uint32_t granted = controller->number_of_queues_dw0();
  const std::uint16_t max_qid = controller->is_discovery()
                                    ? 0
                                    : static_cast<std::uint16_t>(std::min(granted & 0xFFFF, granted >> 16) + 1);
  if (cmd.qid > max_qid) return reject(req, invalid_parameters(), ipo_sqe(offsetof(nvme::ConnectCommand, qid)));
  if (cmd.sqsize == 0 || cmd.sqsize > controller->mqes() || cmd.sqsize + 1u > queue_.max_depth())
    return reject(req, invalid_parameters(), ipo_sqe(offsetof(nvme::ConnectCommand, sqsize)));

  auto io = std::make_unique<IoQueue>(queue_, controller, cmd.qid, static_cast<std::uint16_t>(cmd.sqsize + 1));
  // Not enabled yet, or the QID is taken: Command Sequence Error, with the CNTLID in DW0 as nvmet.
  if (nvme::Status st = io->attach(); !st.ok()) return reject(req, st, controller->cntlid());
  io_ = std::move(io);
  state_ = SessionState::io;
  NVMF_LOG(debug, "controller %u: I/O queue %u (%u entries) connected from %s", controller->cntlid(), cmd.qid,
           cmd.sqsize + 1u, queue_.peer_address().c_str());

  fabric::QueueParams params;
  params.qid = cmd.qid;
  params.depth = static_cast<std::uint16_t>(cmd.sqsize + 1);
  params.sq_flow_control_disabled = cmd.cattr & nvme::kConnectCattrDisableSqFlowControl;
  queue_.set_params(params);
  req.cqe.dw0 = controller->cntlid() | require_authentication(controller, data.hostnqn, data.subsysnqn);
  req.set_status(nvme::Status::success());
  queue_.complete(req);
}

}  // namespace nvmf::target
