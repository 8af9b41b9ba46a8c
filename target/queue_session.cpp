#include "target/queue_session.hpp"

#include "fabric/log.hpp"
#include "nvme/fabrics.hpp"
#include "target/controller.hpp"

namespace nvmf::target {

QueueSession::QueueSession(fabric::ControllerQueue& queue, std::shared_ptr<Registry> registry, std::uint16_t portid)
    : queue_(queue), registry_(std::move(registry)), portid_(portid) {}

QueueSession::~QueueSession() {
  stop_auth_timer();
  if (close_timer_) queue_.reactor().cancel_timer(close_timer_);
}

void QueueSession::reject(fabric::ControllerRequest& req, nvme::Status status, std::uint32_t dw0) {
  req.cqe.dw0 = dw0;
  req.set_status(status);
  // Command-specific codes of a Fabrics command (Connect: 82h Invalid Parameters) have Fabrics meanings.
  NVMF_LOG(debug, "queue from %s: opcode 0x%02x cid %u refused: %s", queue_.peer_address().c_str(), req.sqe.opcode,
           req.sqe.cid, status.to_string(/*fabrics=*/req.sqe.opcode == nvme::kFabricsOpcode).c_str());
  if (req.direction == fabric::DataDirection::controller_to_host) req.data_length = 0;
  queue_.complete(req);
}

void QueueSession::on_command(fabric::ControllerRequest& req) {
  // Borrowed in-capsule data (fabric/transport.hpp) is used in place only by the I/O queue's own commands, which
  // decide per command; every other path may hold the request past this call.
  if (req.data_borrowed && (state_ != SessionState::io || req.sqe.opcode == nvme::kFabricsOpcode)) queue_.keep_data(req);
  const bool is_connect =
      req.sqe.opcode == nvme::kFabricsOpcode && req.sqe.bytes()[4] == nvme_fabrics_type_connect;
  // A second Connect on a queue is a Command Sequence Error (nvmet); logged like every refused Connect.
  const nvme::Status sequence_error = nvme::Status::generic(NVME_SC_CMD_SEQ_ERROR);
  if (is_connect && state_ != SessionState::awaiting_connect) {
    log_connect_refusal(req, sequence_error, "the queue is connected already (or being connected)");
    if (state_ == SessionState::admin) return admin_->handle(req);  // answers it, and keeps it in the error log
    return reject(req, sequence_error);
  }
  switch (state_) {
    case SessionState::awaiting_connect:
      if (is_connect) return begin_connect(req);
      return reject(req, sequence_error);
    case SessionState::admin:
    case SessionState::io:
      if (is_auth_command(req)) return handle_auth(req);
      // NVMe-oF 6.3: until the queue is authenticated every other command fails with Authentication Required.
      if (!authenticated_) return reject(req, nvme::Status::command_specific(NVME_SC_AUTH_REQUIRED));
      if (state_ == SessionState::admin) return admin_->handle(req);
      if (req.sqe.opcode == nvme::kFabricsOpcode) return handle_io_fabrics(req);
      return io_->handle(req);
    case SessionState::connecting:
    case SessionState::disconnected:
    case SessionState::closed:
      return reject(req, nvme::Status::generic(NVME_SC_CMD_SEQ_ERROR));
  }
}

void QueueSession::on_data_fetched(fabric::ControllerRequest& req) {
  if ((state_ == SessionState::admin || state_ == SessionState::io) && is_auth_command(req))
    return finish_auth_send(req);
  switch (state_) {
    case SessionState::connecting:
      return finish_connect(req);
    case SessionState::admin:
      return admin_->on_data(req);
    case SessionState::io:
    case SessionState::disconnected:
      return io_->on_data(req);
    case SessionState::awaiting_connect:
    case SessionState::closed:
      // A fetch only follows a command that asked for it; complete it whatever happened.
      return reject(req, req.status().ok() ? nvme::Status::make(NVME_SCT_GENERIC, NVME_SC_INTERNAL) : req.status());
  }
}

void QueueSession::on_queue_closed() {
  const SessionState previous = state_;
  state_ = SessionState::closed;
  stop_auth_timer();
  auth_.reset();
  if (previous == SessionState::admin) admin_->on_closed();
  if (io_) io_->on_closed();
}

void QueueSession::handle_io_fabrics(fabric::ControllerRequest& req) {
  switch (req.sqe.bytes()[4]) {
    case nvme_fabrics_type_disconnect:
      // NVMe-oF Disconnect: the I/O queue is deleted; the QID is free for a new Connect once we answer.
      io_->on_closed();
      state_ = SessionState::disconnected;
      req.set_status(nvme::Status::success());
      return queue_.complete(req);
    case nvme_fabrics_type_connect:
      return reject(req, nvme::Status::generic(NVME_SC_CMD_SEQ_ERROR));
    default:
      // Property Get/Set belong to the admin queue; as nvmet_parse_fabrics_io_cmd, others are invalid opcodes.
      return reject(req, nvme::Status::generic(NVME_SC_INVALID_OPCODE));
  }
}

}  // namespace nvmf::target
