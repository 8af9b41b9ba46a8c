// Controller side of one NVMe/RDMA queue: one RC QP, its CQ polled through a completion channel watched by the
// reactor's io_uring, receive buffers for command capsules (SQE + in-capsule data), response capsules sent with
// SEND (or SEND with Invalidate when the host asked for it), host data moved with RDMA READ/WRITE through a
// per-queue registered buffer pool. Implements the ControllerQueue contract of fabric/transport.hpp.
//
// Queue state machine (advance() is the one place that moves it):
//   connected --(DISCONNECTED event, QP error, close())--> draining --(drain SEND flushed, or 2 s)--> drained
//   drained --(every request completed by the handler)--> self-delete
#pragma once
#include <rdma/rdma_cma.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fabric/capsule_queue/command_slots.hpp"
#include "fabric/capsule_queue/read_credits.hpp"
#include "fabric/rdma/capsule.hpp"
#include "fabric/rdma/cm_private_data.hpp"
#include "fabric/rdma/index_ring.hpp"
#include "fabric/rdma/memory_registrar.hpp"
#include "fabric/rdma/receive_layout.hpp"
#include "fabric/rdma/registered_pool.hpp"
#include "fabric/transport.hpp"

namespace nvmf::fabric::rdma {

class FdWatch;

class RdmaControllerQueue final : public ControllerQueue {
 public:
  /// On `reactor`'s thread: take over `id` (whose events now arrive on `channel`, owned by the queue), create
  /// the QP and buffers, create the handler and accept. On failure the connection is rejected with
  /// "no resources", id and channel are destroyed, and nullptr is returned. The queue frees itself later.
  static RdmaControllerQueue* accept(Reactor& reactor, rdma_cm_id* id, rdma_event_channel* channel,
                                     const CmConnectParams& params, const TransportLimits& limits,
                                     QueueHandlerFactory& factory);

  void fetch_data(ControllerRequest& req) override;
  void complete(ControllerRequest& req) override;
  void set_params(const QueueParams& params) override;
  void close() override;
  Reactor& reactor() override { return reactor_; }
  TransportType transport_type() const override { return TransportType::rdma; }
  std::string peer_address() const override { return peer_; }
  std::uint16_t max_depth() const override { return max_depth_; }

 private:
  enum class State : std::uint8_t { connected, draining, drained };
  using Phase = capsule_queue::SlotPhase;
  using Slot = capsule_queue::CommandSlot;

  RdmaControllerQueue(Reactor& reactor, rdma_cm_id* id, rdma_event_channel* channel, const CmConnectParams& params,
                      const TransportLimits& limits);
  ~RdmaControllerQueue() override;
  bool create_resources(std::string* error);
  bool post_recv(std::uint32_t index);

  static void on_cq_ready(void* self);
  static void on_cm_ready(void* self);
  void handle_completion(const ibv_wc& wc);
  void on_capsule(std::uint32_t recv_index, std::uint32_t bytes);
  void post_read(Slot& slot);
  void on_read_done(Slot& slot, bool ok);
  void send_response(Slot& slot);
  void release_recv(Slot& slot);
  void recycle(Slot& slot);

  void begin_close(const char* why);
  void force_drained();
  void advance();  ///< State transitions that depend on counters (drained, self-delete)

  Reactor& reactor_;
  rdma_cm_id* id_;
  rdma_event_channel* channel_;
  CmConnectParams cm_;
  TransportLimits limits_;
  std::uint16_t max_depth_;
  std::uint32_t in_capsule_limit_;
  ReceiveLayout recv_layout_;  ///< SQEs and in-capsule data of the receive buffers, data 4 KiB-aligned
  std::string peer_;

  State state_ = State::connected;
  bool closed_notified_ = false;  ///< on_queue_closed scheduled
  bool closed_done_ = false;      ///< on_queue_closed has run
  bool drain_send_done_ = false;
  std::uint64_t drain_timer_ = 0;  ///< TimerWheel id of the drain fallback (0: none)
  bool in_poll_ = false;

  ibv_pd* pd_ = nullptr;
  ibv_comp_channel* comp_channel_ = nullptr;
  ibv_cq* cq_ = nullptr;
  unsigned unacked_events_ = 0;
  FdWatch* cq_watch_ = nullptr;
  FdWatch* cm_watch_ = nullptr;
  std::unique_ptr<VerbsRegistrar> registrar_;
  std::unique_ptr<RegisteredPool> data_pool_;
  std::byte* recv_memory_ = nullptr;             ///< depth receive buffers (recv_layout_), registered as recv_region_
  MemoryRegion recv_region_;
  std::vector<nvme::Cqe> responses_;             ///< One response capsule per slot, registered as response_region_
  MemoryRegion response_region_;

  std::unique_ptr<QueueHandler> handler_;
  capsule_queue::CommandSlots<Slot> slots_;
  capsule_queue::ReadCredits reads_;  ///< RDMA READ credits: the host's IRD
  QueueParams params_;
};

}  // namespace nvmf::fabric::rdma
