// The send half of the NVMe/RDMA host data path: a request becomes a command capsule in its slot's send buffer,
// its data in-capsule (small writes), or described by a keyed SGL over the registered application buffer, a
// bounce buffer, or a memory window bound for this request; then one SEND (after the window bind, if any).
#include <cerrno>
#include <cstring>

#include "fabric/capsule_queue/host_slots.hpp"
#include "fabric/host_status.hpp"
#include "fabric/log.hpp"
#include "fabric/rdma/completion_drain.hpp"
#include "fabric/rdma/host_slot.hpp"
#include "fabric/reactor.hpp"

namespace nvmf::fabric {

using nvme::Status;
using rdma::WrKind;

bool RdmaHostQueue::submit(HostRequest& req) {
  if (!alive_ || free_slots_.empty() || outstanding_ >= depth_) return false;
  const std::uint32_t length = req.direction == DataDirection::none ? 0 : capsule_queue::request_length(req);
  const std::uint16_t index = free_slots_.back();
  Slot& slot = slots_[index];
  std::byte* capsule = capsules_ + std::size_t(index) * rdma::kHostCapsuleSize;

  nvme::Sqe sqe = req.sqe;
  sqe.cid = index;
  std::uint32_t send_length = rdma::kCommandCapsuleHeader;
  ibv_send_wr bind{};
  bool use_bind = false;
  const std::uint32_t window_rkey = slot.window_rkey;  // the window's key survives between its requests
  slot = Slot{};
  slot.window_rkey = window_rkey;
  if (length == 0) {
    rdma::set_null_sgl(sqe);
  } else if (req.direction == DataDirection::host_to_controller && length <= in_capsule_limit_) {
    capsule_queue::gather(req, capsule + rdma::kCommandCapsuleHeader);
    rdma::set_in_capsule_sgl(sqe, length);
    send_length += length;
  } else {
    capsule_queue::KeyedRegion region;
    const std::string why = capsule_queue::map_keyed_data(slot, req, length, *cache_, *bounce_pool_, &region);
    if (!why.empty()) {
      slot = Slot{};
      slot.window_rkey = window_rkey;
      capsule_queue::refuse_unmappable(req, index, reactor_, "rdma", qid_, why);
      return true;
    }
    auto* mr = static_cast<ibv_mr*>(region.handle);
    if (!windows_.empty()) {
      // Expose exactly this request's bytes, for this request only; the controller invalidates the window.
      slot.window_rkey = ibv_inc_rkey(slot.window_rkey);
      bind.wr_id = rdma::make_wr_id(WrKind::bind, index);
      bind.opcode = IBV_WR_BIND_MW;
      bind.bind_mw.mw = windows_[index];
      bind.bind_mw.rkey = slot.window_rkey;
      bind.bind_mw.bind_info.mr = mr;
      bind.bind_mw.bind_info.addr = region.address;
      bind.bind_mw.bind_info.length = length;
      bind.bind_mw.bind_info.mw_access_flags = req.direction == DataDirection::host_to_controller
                                                   ? IBV_ACCESS_REMOTE_READ
                                                   : IBV_ACCESS_REMOTE_WRITE;
      use_bind = true;
      slot.window_bound = true;
      rdma::set_keyed_sgl(sqe, region.address, length, slot.window_rkey, true);
    } else {
      rdma::set_keyed_sgl(sqe, region.address, length, region.rkey, false);
    }
  }
  std::memcpy(capsule, &sqe, sizeof sqe);
  slot.req = &req;
  slot.busy = true;
  slot.length = length;
  free_slots_.pop_back();
  ++outstanding_;

  ibv_sge sge{reinterpret_cast<std::uint64_t>(capsule), send_length, capsule_region_.lkey};
  ibv_send_wr send{};
  send.wr_id = rdma::make_wr_id(WrKind::send, index);
  send.sg_list = &sge;
  send.num_sge = 1;
  send.opcode = IBV_WR_SEND;
  send.send_flags = IBV_SEND_SIGNALED;
  if (use_bind) bind.next = &send;
  ibv_send_wr* bad = nullptr;
  if (ibv_post_send(id_->qp, use_bind ? &bind : &send, &bad) != 0)
    fail(std::string("ibv_post_send: ") + std::strerror(errno), host_path_error());
  return true;
}

}  // namespace nvmf::fabric
