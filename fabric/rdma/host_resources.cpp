// The verbs objects of an NVMe/RDMA host queue: protection domain, completion channel and CQ, the RC QP, the
// command capsule and response buffers (registered once, for the queue's life) with every receive posted; and
// their release in the reverse order.
#include <fcntl.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "fabric/rdma/completion_drain.hpp"
#include "fabric/rdma/fd_watch.hpp"
#include "fabric/rdma/host_slot.hpp"

namespace nvmf::fabric {

using rdma::WrKind;

bool RdmaHostQueue::create_resources(bool memory_windows, std::string* error) {
  auto fail = [error](const char* what) {
    *error = std::string(what) + ": " + std::strerror(errno);
    return false;
  };
  ibv_context* verbs = id_->verbs;
  if (!(pd_ = ibv_alloc_pd(verbs))) return fail("ibv_alloc_pd");
  if (!(comp_channel_ = ibv_create_comp_channel(verbs))) return fail("ibv_create_comp_channel");
  fcntl(comp_channel_->fd, F_SETFL, fcntl(comp_channel_->fd, F_GETFL) | O_NONBLOCK);
  // Per slot: window bind, command SEND, local invalidate.
  const std::uint32_t send_wrs = 3u * depth_;
  const std::uint32_t recv_wrs = depth_;
  if (!(cq_ = ibv_create_cq(verbs, static_cast<int>(send_wrs + recv_wrs), this, comp_channel_, 0)))
    return fail("ibv_create_cq");
  ibv_qp_init_attr qp{};
  qp.send_cq = cq_;
  qp.recv_cq = cq_;
  qp.qp_type = IBV_QPT_RC;
  qp.cap.max_send_wr = send_wrs;
  qp.cap.max_recv_wr = recv_wrs;
  qp.cap.max_send_sge = 1;
  qp.cap.max_recv_sge = 1;
  if (rdma_create_qp(id_, pd_, &qp) != 0) return fail("rdma_create_qp");

  create_registration(memory_windows);

  constexpr std::size_t kAlignment = rdma::kHostBufferAlignment;
  const std::size_t capsule_bytes =
      (std::size_t(depth_) * rdma::kHostCapsuleSize + kAlignment - 1) / kAlignment * kAlignment;
  capsules_ = static_cast<std::byte*>(std::aligned_alloc(kAlignment, capsule_bytes));
  if (!capsules_) return fail("allocating command capsules");
  if (!buffer_registrar_->register_region(reinterpret_cast<std::uintptr_t>(capsules_), capsule_bytes,
                                          &capsule_region_, error))
    return false;
  responses_.assign(depth_, nvme::Cqe{});
  if (!buffer_registrar_->register_region(reinterpret_cast<std::uintptr_t>(responses_.data()),
                                          responses_.size() * sizeof(nvme::Cqe), &response_region_, error))
    return false;
  slots_.resize(depth_);
  for (std::uint16_t i = depth_; i-- > 0;) {
    free_slots_.push_back(i);
    if (!windows_.empty()) slots_[i].window_rkey = windows_[i]->rkey;
  }
  for (std::uint32_t i = 0; i < depth_; ++i)
    if (!post_recv(i)) return fail("ibv_post_recv");
  if (ibv_req_notify_cq(cq_, 0) != 0) return fail("ibv_req_notify_cq");
  return true;
}

RdmaHostQueue::~RdmaHostQueue() {
  if (alive_) close();
  if (cq_watch_) cq_watch_->detach();
  if (cm_watch_) cm_watch_->detach();
  if (id_ && id_->qp) rdma_destroy_qp(id_);
  for (auto* w : windows_) ibv_dealloc_mw(w);
  cache_.reset();
  bounce_pool_.reset();
  if (buffer_registrar_) {
    if (capsule_region_.handle) buffer_registrar_->deregister_region(capsule_region_);
    if (response_region_.handle) buffer_registrar_->deregister_region(response_region_);
  }
  std::free(capsules_);
  if (cq_) {
    if (unacked_events_) ibv_ack_cq_events(cq_, unacked_events_);
    ibv_destroy_cq(cq_);
  }
  if (comp_channel_) ibv_destroy_comp_channel(comp_channel_);
  if (pd_) ibv_dealloc_pd(pd_);
  if (id_) rdma_destroy_id(id_);
  if (channel_) rdma_destroy_event_channel(channel_);
}

bool RdmaHostQueue::post_recv(std::uint32_t index) {
  ibv_sge sge{reinterpret_cast<std::uint64_t>(&responses_[index]), rdma::kResponseCapsuleSize,
              response_region_.lkey};
  ibv_recv_wr wr{};
  wr.wr_id = rdma::make_wr_id(WrKind::recv, index);
  wr.sg_list = &sge;
  wr.num_sge = 1;
  ibv_recv_wr* bad = nullptr;
  return ibv_post_recv(id_->qp, &wr, &bad) == 0;
}

}  // namespace nvmf::fabric
