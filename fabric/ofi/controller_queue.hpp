// Controller side of one ofi queue: the NVMe/RDMA capsule format over a libfabric FI_EP_MSG endpoint. Command
// capsules (SQE + in-capsule data) arrive in posted receive buffers, responses leave by fi_send, host data moves
// by fi_read/fi_write against the host memory a Keyed SGL names, through a registered per-queue pool. Implements
// the ControllerQueue contract of fabric/transport.hpp.
//
// States: connected --(FI_SHUTDOWN, error completion, close())--> closed: the endpoint is closed at the end of
// that reactor turn (no transfer touches our buffers after it); the queue frees itself once the handler has
// completed every request it holds and has been told of the end.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fabric/capsule_queue/command_slots.hpp"
#include "fabric/capsule_queue/read_credits.hpp"
#include "fabric/ofi/cq_counters.hpp"
#include "fabric/ofi/endpoint.hpp"
#include "fabric/ofi/ofi_registrar.hpp"
#include "fabric/ofi/op_context.hpp"
#include "fabric/ofi/wait_driver.hpp"
#include "fabric/rdma/capsule.hpp"
#include "fabric/rdma/cm_private_data.hpp"
#include "fabric/rdma/index_ring.hpp"
#include "fabric/rdma/receive_layout.hpp"
#include "fabric/rdma/registered_pool.hpp"
#include "fabric/transport.hpp"

namespace nvmf::fabric::ofi {

/// RMA reads a controller queue keeps outstanding at once (libfabric negotiates no read depth, unlike RDMA CM).
inline constexpr std::uint8_t kMaxReadsPerQueue = 16;

/// Refuses the CONNREQ a queue was being set up for: fi_reject with the NVMe/RDMA reject record, on the
/// listener's passive endpoint (which belongs to the listener's reactor, so the listener decides where it runs).
using RejectConnect = std::function<void(nvme::rdma::CmRejectStatus)>;

class OfiControllerQueue final : public ControllerQueue {
 public:
  /// On `reactor`'s thread: open the endpoint for the CONNREQ's `info`, post receives, create the handler and
  /// fi_accept with the NVMe/RDMA accept record. When the queue cannot be set up, `reject` refuses the request
  /// ("no resources"), so the host learns it at once instead of waiting for its connect timeout.
  static void accept(Reactor& reactor, std::shared_ptr<Fabric> fabric, fi_info& info,
                     const rdma::CmConnectParams& params, const TransportLimits& limits,
                     QueueHandlerFactory& factory, const std::string& listener, const RejectConnect& reject);

  void fetch_data(ControllerRequest& req) override;
  void complete(ControllerRequest& req) override;
  void set_params(const QueueParams& params) override;
  void close() override;
  Reactor& reactor() override { return reactor_; }
  TransportType transport_type() const override { return TransportType::ofi; }
  std::string peer_address() const override { return peer_; }
  std::uint16_t max_depth() const override { return max_depth_; }

 private:
  using Phase = capsule_queue::SlotPhase;
  struct Slot : capsule_queue::CommandSlot {
    std::uint8_t pending_ops = 0;  ///< Posted write/send not yet completed
    bool send_waits_for_write = false;
    OpContext read_op, write_op, send_op;
  };

  OfiControllerQueue(Reactor& reactor, const rdma::CmConnectParams& params, const TransportLimits& limits,
                     std::string peer);
  ~OfiControllerQueue() override;
  bool create_resources(std::shared_ptr<Fabric> fabric, fi_info& info, std::string* error);
  bool post_recv(std::uint32_t index);

  static void drain_cq(void* self);
  static void drain_eq(void* self);
  void on_completion(OpContext& op, std::size_t length, bool ok);
  void on_capsule(std::uint32_t recv_index, std::uint32_t bytes);
  void post_read(Slot& slot);
  void on_read_done(Slot& slot, bool ok);
  void send_response(Slot& slot);
  bool post_response_send(Slot& slot);
  void on_send_side_done(Slot& slot);
  void recycle_after_inject(Slot& slot);
  void release_recv(Slot& slot);
  void recycle(Slot& slot);
  void begin_close(const char* why);
  void finish_close();
  void maybe_delete();

  Reactor& reactor_;
  rdma::CmConnectParams cm_;
  TransportLimits limits_;
  std::uint16_t max_depth_;
  std::uint32_t in_capsule_limit_;
  std::string peer_;
  bool closed_ = false;
  bool endpoint_closed_ = false;
  bool closed_done_ = false;  ///< on_queue_closed has run
  bool delete_scheduled_ = false;

  std::unique_ptr<Endpoint> endpoint_;
  std::unique_ptr<OfiRegistrar> local_registrar_;
  std::unique_ptr<rdma::RegisteredPool> data_pool_;
  std::unique_ptr<WaitDriver> cq_driver_;
  std::unique_ptr<WaitDriver> eq_driver_;
  rdma::ReceiveLayout recv_layout_;  ///< SQEs and in-capsule data of the receive buffers, data 4 KiB-aligned
  std::byte* recv_memory_ = nullptr;  ///< depth receive buffers (recv_layout_), registered as recv_region_
  rdma::MemoryRegion recv_region_;
  std::vector<nvme::Cqe> responses_;
  rdma::MemoryRegion response_region_;
  std::vector<OpContext> recv_ops_;

  std::unique_ptr<QueueHandler> handler_;
  capsule_queue::CommandSlots<Slot> slots_;
  capsule_queue::ReadCredits reads_;
  QueueParams params_;
  CqCounters cq_counters_;
};

}  // namespace nvmf::fabric::ofi
