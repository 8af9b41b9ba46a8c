#include "target/admin_queue.hpp"

#include <cstring>

#include "fabric/log.hpp"
#include "nvme/fabrics.hpp"
#include "target/controller.hpp"

namespace nvmf::target {

AdminQueue::AdminQueue(fabric::ControllerQueue& queue, std::shared_ptr<Controller> controller)
    : queue_(queue), controller_(std::move(controller)) {}

void AdminQueue::on_closed() { controller_->teardown(); }

void AdminQueue::finish(fabric::ControllerRequest& req, nvme::Status status) {
  req.set_status(status);
  if (!status.ok()) {
    ErrorRecord rec;
    rec.sqid = 0;
    rec.cid = req.sqe.cid;
    rec.status = status;
    rec.nsid = req.sqe.nsid;
    controller_->record_error(rec);
    NVMF_LOG(debug, "controller %u admin: opcode 0x%02x cid %u failed: %s", controller_->cntlid(), req.sqe.opcode,
             req.sqe.cid, status.to_string(/*fabrics=*/req.sqe.opcode == nvme::kFabricsOpcode).c_str());
    if (req.direction == fabric::DataDirection::controller_to_host) req.data_length = 0;
  }
  queue_.complete(req);
}

void AdminQueue::complete_with_data(fabric::ControllerRequest& req, const void* data, std::size_t length) {
  // As nvmet_check_transfer_len: the SGL must describe exactly the structure returned.
  if (req.direction != fabric::DataDirection::controller_to_host || req.data_length != length || !req.data)
    return finish(req, nvme::Status::generic(NVME_SC_SGL_INVALID_DATA));
  std::memcpy(req.data, data, length);
  finish(req, nvme::Status::success());
}

void AdminQueue::handle(fabric::ControllerRequest& req) {
  controller_->keep_alive();  // any admin command shows the host is alive
  if (req.sqe.opcode == nvme::kFabricsOpcode) return handle_fabrics(req);

  // Linux nvmet (nvmet_check_ctrl_status): admin commands before CC.EN = 1 and CSTS.RDY = 1 are a sequence error.
  if (!controller_->ready()) return finish(req, nvme::Status::generic(NVME_SC_CMD_SEQ_ERROR));

  const bool discovery = controller_->is_discovery();
  switch (req.sqe.opcode) {
    case nvme_admin_identify:
      return identify(req);
    case nvme_admin_get_log_page:
      return get_log_page(req);
    case nvme_admin_get_features:
      return get_features(req);
    case nvme_admin_set_features:
      return set_features(req);
    case nvme_admin_async_event:
      return async_event_request(req);
    case nvme_admin_keep_alive:
      return finish(req, nvme::Status::success());
    case nvme_admin_abort_cmd:
      if (discovery) break;
      return abort(req);
    default:
      break;
  }
  finish(req, nvme::Status::generic(NVME_SC_INVALID_OPCODE));
}

void AdminQueue::on_data(fabric::ControllerRequest& req) {
  if (!req.status().ok()) return finish(req, req.status());
  if (req.sqe.opcode == nvme_admin_set_features) return set_features_with_data(req);
  finish(req, nvme::Status::make(NVME_SCT_GENERIC, NVME_SC_INTERNAL));
}

void AdminQueue::handle_fabrics(fabric::ControllerRequest& req) {
  const auto cmd = nvme::fabrics_view<nvme::PropertyCommand>(req.sqe);
  const bool eight_bytes = (cmd.attrib & 0x7) == 1;
  switch (cmd.fctype) {
    case nvme_fabrics_type_property_get: {
      std::uint64_t value = 0;
      nvme::Status st = controller_->get_property(cmd.offset, eight_bytes, value);
      if (st.ok()) {
        req.cqe.dw0 = static_cast<std::uint32_t>(value);
        req.cqe.dw1 = static_cast<std::uint32_t>(value >> 32);
      }
      return finish(req, st);
    }
    case nvme_fabrics_type_property_set:
      return finish(req, controller_->set_property(cmd.offset, eight_bytes, cmd.value));
    case nvme_fabrics_type_connect:
      // The queue is already connected.
      return finish(req, nvme::Status::generic(NVME_SC_CMD_SEQ_ERROR));
    case nvme_fabrics_type_disconnect:
      // NVMe-oF: Disconnect applies to I/O queues; the admin queue goes with the association.
      return finish(req, nvme::Status::command_specific(NVME_SC_DISCONNECT_INVALID_QTYPE));
    default:
      // Authentication Send/Receive never get here (QueueSession answers them); as nvmet, unknown fctypes
      // are an invalid opcode.
      return finish(req, nvme::Status::generic(NVME_SC_INVALID_OPCODE));
  }
}

void AdminQueue::abort(fabric::ControllerRequest& req) {
  // NVMe base spec, Abort: CDW10 bits 15:0 SQID, bits 31:16 CID; DW0 bit 0 of the completion is 0 when the
  // command was aborted, 1 when not. ACL (0's based) + 1 Aborts may be outstanding at once.
  const auto sqid = static_cast<std::uint16_t>(req.sqe.cdw10 & 0xFFFF);
  const auto cid = static_cast<std::uint16_t>(req.sqe.cdw10 >> 16);
  if (aborts_outstanding_ > Controller::kAbortLimit)
    return finish(req, nvme::Status::command_specific(NVME_SC_ABORT_LIMIT));
  if (sqid == 0) {
    // On the admin queue only a held Asynchronous Event Request is still waiting inside the controller.
    req.cqe.dw0 = controller_->abort_held_aer(cid) ? 0 : 1;
    return finish(req, nvme::Status::success());
  }
  ++aborts_outstanding_;
  controller_->abort_io_command(sqid, cid, [this, &req](bool aborted) {
    --aborts_outstanding_;
    req.cqe.dw0 = aborted ? 0 : 1;
    finish(req, nvme::Status::success());
  });
}

void AdminQueue::async_event_request(fabric::ControllerRequest& req) {
  // Held until an event arrives; AERL + 1 may be outstanding (NVMe base spec, Asynchronous Event Request).
  if (!controller_->hold_aer(req)) return finish(req, nvme::Status::command_specific(NVME_SC_ASYNC_LIMIT));
}

}  // namespace nvmf::target
