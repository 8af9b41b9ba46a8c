// The send half of the NVMe/RDMA host data path: a request becomes a command capsule in its slot's send buffer,
// its data in-capsule (small writes), or described by a keyed SGL over the registered application buffer, a
// bounce buffer, or a memory window bound for this request; then one SEND (after the window bind, if any).
#include <cerrno>
#include <cstring>

#include "fabric/host_status.hpp"
#include "fabric/log.hpp"
#include "fabric/rdma/completion_drain.hpp"
#include "fabric/rdma/host_slot.hpp"
#include "fabric/reactor.hpp"

namespace nvmf::fabric {

using nvme::Status;
using rdma::WrKind;

namespace {
std::uint32_t iov_total(const HostRequest& req) {
  std::uint64_t total = 0;
  for (std::uint32_t i = 0; i < req.iovcnt; ++i) total += req.iov[i].iov_len;
  return total > 0xFFFFFFFFu ? 0xFFFFFFFFu : static_cast<std::uint32_t>(total);
}
void gather(const HostRequest& req, std::byte* out) {
  for (std::uint32_t i = 0; i < req.iovcnt; ++i) {
    std::memcpy(out, req.iov[i].iov_base, req.iov[i].iov_len);
    out += req.iov[i].iov_len;
  }
}
}  // namespace

bool RdmaHostQueue::submit(HostRequest& req) {
  if (!alive_ || free_slots_.empty() || outstanding_ >= depth_) return false;
  const std::uint32_t length = req.direction == DataDirection::none ? 0 : iov_total(req);
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
    gather(req, capsule + rdma::kCommandCapsuleHeader);
    rdma::set_in_capsule_sgl(sqe, length);
    send_length += length;
  } else {
    std::string why;
    if (length > rdma::kMaxKeyedLength || (req.iovcnt > 1 && length > bounce_pool_->buffer_size())) {
      why = "transfer of " + std::to_string(length) + " bytes in " + std::to_string(req.iovcnt) +
            " buffers exceeds the keyed SGL limit";
    } else {
      std::uintptr_t address = 0;
      ibv_mr* mr = nullptr;
      std::uint32_t rkey = 0;
      if (req.iovcnt == 1) {
        slot.registration = cache_->acquire(req.iov[0].iov_base, length, &why);
        if (slot.registration) {
          address = reinterpret_cast<std::uintptr_t>(req.iov[0].iov_base);
          mr = static_cast<ibv_mr*>(slot.registration->region.handle);
          rkey = slot.registration->region.rkey;
        }
      } else {
        slot.bounce = bounce_pool_->get();
        if (slot.bounce) {
          if (req.direction == DataDirection::host_to_controller) gather(req, slot.bounce.data);
          address = reinterpret_cast<std::uintptr_t>(slot.bounce.data);
          mr = static_cast<ibv_mr*>(slot.bounce.handle);
          rkey = slot.bounce.rkey;
        } else {
          why = bounce_pool_->last_error();
        }
      }
      if (mr && !windows_.empty()) {
        // Expose exactly this request's bytes, for this request only; the controller invalidates the window.
        slot.window_rkey = ibv_inc_rkey(slot.window_rkey);
        bind.wr_id = rdma::make_wr_id(WrKind::bind, index);
        bind.opcode = IBV_WR_BIND_MW;
        bind.bind_mw.mw = windows_[index];
        bind.bind_mw.rkey = slot.window_rkey;
        bind.bind_mw.bind_info.mr = mr;
        bind.bind_mw.bind_info.addr = address;
        bind.bind_mw.bind_info.length = length;
        bind.bind_mw.bind_info.mw_access_flags = req.direction == DataDirection::host_to_controller
                                                     ? IBV_ACCESS_REMOTE_READ
                                                     : IBV_ACCESS_REMOTE_WRITE;
        use_bind = true;
        slot.window_bound = true;
        rdma::set_keyed_sgl(sqe, address, length, slot.window_rkey, true);
      } else if (mr) {
        rdma::set_keyed_sgl(sqe, address, length, rkey, false);
      }
    }
    if (!use_bind && why.size()) {
      if (slot.registration) cache_->release(slot.registration);
      bounce_pool_->put(slot.bounce);
      slot = Slot{};
      slot.window_rkey = window_rkey;
      NVMF_LOG(error, "rdma: qid %u: cannot map request data: %s", qid_, why.c_str());
      HostRequest* r = &req;
      r->cqe = nvme::Cqe{};
      r->cqe.cid = index;
      r->cqe.set_status(Status::make(NVME_SCT_GENERIC, NVME_SC_INTERNAL, true));
      reactor_.defer([r] { r->on_complete(*r); });
      return true;
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
