// What a received command capsule asks of a controller queue, for both capsule transports (command_slots.hpp).
#include "fabric/capsule_queue/command_slots.hpp"

#include <algorithm>
#include <cstring>

#include "fabric/log.hpp"

namespace nvmf::fabric::capsule_queue {

using nvme::Status;
using rdma::DataLocation;

CommandStart start_command(CommandSlot& slot, const std::byte* sqe, std::byte* recv_data, std::uint32_t recv_index,
                           std::uint32_t bytes, std::uint32_t in_capsule_limit, std::uint32_t max_io_size,
                           rdma::RegisteredPool& pool, const QueueLabel& label) {
  ControllerRequest& req = slot.req;
  std::memcpy(&req.sqe, sqe, sizeof req.sqe);
  req.cqe = nvme::Cqe{};
  req.data = nullptr;
  req.data_ready = false;
  req.data_length = 0;
  req.direction = DataDirection::none;
  slot.recv_index = recv_index;
  slot.holds_recv = true;
  slot.phase = SlotPhase::handler;

  slot.data = rdma::parse_command_capsule(req.sqe, bytes, in_capsule_limit, max_io_size);
  if (!slot.data.status.ok()) {
    req.set_status(slot.data.status);
    return CommandStart::respond;
  }
  req.direction = slot.data.direction;
  req.data_length = slot.data.length;
  CommandStart next = CommandStart::release_then_deliver;
  if (slot.data.location == DataLocation::in_capsule) {
    // The receive's data piece: 4 KiB-aligned, so an aligned write can go O_DIRECT (receive_layout.hpp).
    req.data = recv_data + slot.data.in_capsule_offset;
    req.data_ready = true;
    next = CommandStart::deliver;
  } else if (slot.data.location == DataLocation::keyed) {
    slot.buffer = pool.get();
    if (!slot.buffer) {
      NVMF_LOG(error, "%s: %s qid %u: no data buffer: %s", label.transport, label.peer.c_str(), label.qid,
               pool.last_error().c_str());
      req.set_status(Status::make(NVME_SCT_GENERIC, NVME_SC_INTERNAL));
      return CommandStart::respond;
    }
    req.data = slot.buffer.data;
  }
  slot.handler_owns = true;
  return next;
}

std::uint32_t keyed_write_length(const CommandSlot& slot) {
  if (!slot.req.status().ok() || slot.data.location != DataLocation::keyed ||
      slot.data.direction != DataDirection::controller_to_host)
    return 0;
  return std::min(slot.req.data_length, slot.data.length);
}

void fail_data_transfer(CommandSlot& slot) {
  slot.phase = SlotPhase::handler;
  slot.req.set_status(Status::generic(NVME_SC_DATA_XFER_ERROR));
}

void read_done(CommandSlot& slot, bool ok) {
  if (!ok) {
    fail_data_transfer(slot);
    return;
  }
  slot.phase = SlotPhase::handler;
  slot.req.data_ready = true;
}

}  // namespace nvmf::fabric::capsule_queue
