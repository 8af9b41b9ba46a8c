// Host side of one ofi queue: a libfabric FI_EP_MSG endpoint connected with the NVMe/RDMA connect record as its
// connection data (fi_connect; the controller answers with the accept record or fi_reject's reject record),
// command capsules sent with fi_send (small writes carry their data in-capsule), bulk data described by a Keyed
// SGL over the application's own buffers (registered once through a registration cache; multi-buffer requests
// through a registered bounce pool), responses received into posted buffers. A request completes once both its
// send completion and its response have arrived. host_connect.cpp sets the queue up, host_data.cpp is the data path.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fabric/host_transport.hpp"
#include "fabric/ofi/cq_counters.hpp"
#include "fabric/capsule_queue/host_slots.hpp"
#include "fabric/ofi/endpoint.hpp"
#include "fabric/ofi/ofi_registrar.hpp"
#include "fabric/ofi/op_context.hpp"
#include "fabric/ofi/wait_driver.hpp"
#include "fabric/rdma/registered_pool.hpp"
#include "fabric/rdma/registration_cache.hpp"

namespace nvmf::fabric::ofi {

class OfiHostQueue final : public HostQueue {
 public:
  ~OfiHostQueue() override;

  bool submit(HostRequest& req) override;
  std::uint32_t outstanding() const override { return outstanding_; }
  std::uint16_t depth() const override { return depth_; }
  bool alive() const override { return alive_; }
  const HostQueueError& error() const override { return error_; }
  void close() override;
  Reactor& reactor() override { return reactor_; }
  std::uint32_t in_capsule_limit() const override { return in_capsule_limit_; }
  void set_in_capsule_limit(std::uint32_t limit) override;
  bool register_buffer(void* address, std::size_t length, std::string* error) override;
  void unregister_buffer(void* address, std::size_t length) override;

 private:
  friend std::unique_ptr<OfiHostQueue> connect_ofi_host_queue(Reactor&, const std::string&, const HostQueueOptions&,
                                                              std::uint16_t, std::uint16_t, std::string*);
  struct Slot : capsule_queue::HostSlot {
    OpContext send_op;
  };
  OfiHostQueue(Reactor& reactor, std::uint16_t qid, std::uint16_t depth);
  bool connect(const std::string& provider, const HostQueueOptions& options, std::uint16_t cntlid, std::string* error);
  bool create_buffers(std::string* error);
  bool post_recv(std::uint32_t index);
  static void drain_cq(void* self);
  static void drain_eq(void* self);
  void on_response(std::uint32_t recv_index, std::size_t length);
  void try_finish(Slot& slot);
  void finish(Slot& slot, nvme::Status transport_status);
  void fail(const std::string& why, nvme::Status status);

  Reactor& reactor_;
  std::uint16_t qid_;
  std::uint16_t depth_;
  std::uint32_t in_capsule_limit_ = 0;
  std::uint32_t outstanding_ = 0;
  bool alive_ = false;
  HostQueueError error_;

  std::unique_ptr<Endpoint> endpoint_;
  std::unique_ptr<OfiRegistrar> buffer_registrar_;  ///< Queue-owned buffers
  std::unique_ptr<OfiRegistrar> app_registrar_;     ///< Application buffers and the bounce pool
  std::unique_ptr<rdma::RegistrationCache> cache_;
  std::unique_ptr<rdma::RegisteredPool> bounce_pool_;
  std::unique_ptr<WaitDriver> cq_driver_;
  std::unique_ptr<WaitDriver> eq_driver_;
  std::vector<std::byte> capsules_;  ///< depth command capsules (SQE + in-capsule data)
  rdma::MemoryRegion capsule_region_;
  std::vector<nvme::Cqe> responses_;  ///< depth receive buffers
  rdma::MemoryRegion response_region_;
  std::vector<OpContext> recv_ops_;
  std::vector<Slot> slots_;
  std::vector<std::uint16_t> free_slots_;
  CqCounters cq_counters_;
};

/// Connect queue `qid` of controller `cntlid` over libfabric provider `provider` to options.traddr:trsvcid.
/// Drives `reactor` while it waits (at most options.connect_timeout). nullptr and *error (with the controller's
/// reject reason when it refused) on failure.
std::unique_ptr<OfiHostQueue> connect_ofi_host_queue(Reactor& reactor, const std::string& provider,
                                                     const HostQueueOptions& options, std::uint16_t qid,
                                                     std::uint16_t cntlid, std::string* error);

}  // namespace nvmf::fabric::ofi
