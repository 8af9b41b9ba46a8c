// Host side of one NVMe/RDMA queue: an RC QP connected through rdma_cm with the NVMe/RDMA private data, command
// capsules sent with SEND (small writes carry their data in-capsule), bulk data described by a Keyed SGL over the
// application's own buffers (registered once through a registration cache), responses received into
// pre-posted buffers. By default a keyed SGL carries the cached registration's rkey (subtype Address). With
// `memory_windows` (and a device that has type 2 windows), each request instead exposes exactly its own bytes
// through a window bound for that request and asks the controller to invalidate it (subtype Invalidate Key,
// answered by SEND with Invalidate), as the Linux host does with its per-request fast-registration MRs. Off by
// default: on Debian 12's 6.1 kernel, rxe (soft-RoCE) panics in the error path of a window bind posted from user
// space (seen in the interop VM, __rxe_put from ib_uverbs_post_send).
//
// A request completes when both its SEND completion and its response have arrived (and, if the controller did
// not invalidate the window, after a local invalidate), so no buffer is reused while the adapter may touch it.
//
// The implementation, one concern a file as on the TCP side: host_queue.cpp (life and end of the queue),
// host_connect.cpp (rdma_cm set-up), host_resources.cpp (verbs objects and queue-owned buffers),
// host_registration.cpp (application buffers, bounce pool, memory windows), host_submit.cpp and
// host_completions.cpp (the data path); host_slot.hpp is their shared per-command state.
#pragma once
#include <rdma/rdma_cma.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fabric/host_transport.hpp"
#include "fabric/rdma/memory_registrar.hpp"
#include "fabric/rdma/registered_pool.hpp"
#include "fabric/rdma/registration_cache.hpp"

namespace nvmf::fabric {

namespace rdma {
class FdWatch;
}

class RdmaHostQueue final : public HostQueue {
 public:
  /// On the reactor's thread. Outstanding requests complete as aborted. The reactor should run once more
  /// afterwards: the polls on the queue's channels are cancelled asynchronously.
  ~RdmaHostQueue() override;

  bool submit(HostRequest& req) override;
  std::uint32_t outstanding() const override { return outstanding_; }
  std::uint16_t depth() const override { return depth_; }
  bool alive() const override { return alive_; }
  const HostQueueError& error() const override { return error_; }
  void close() override;
  Reactor& reactor() override { return reactor_; }
  std::uint32_t in_capsule_limit() const override { return in_capsule_limit_; }

  /// 0 on the admin queue, like the Linux host; clamped to rdma::kHostMaxInCapsule, what the send buffers hold.
  void set_in_capsule_limit(std::uint32_t limit) override;
  /// Buffers not registered this way are registered on first use and cached the same way.
  bool register_buffer(void* address, std::size_t length, std::string* error) override;
  void unregister_buffer(void* address, std::size_t length) override;
  /// True when requests use per-request memory windows with remote invalidation.
  bool remote_invalidation() const { return !windows_.empty(); }
  std::uint16_t controller_receive_queue_size() const { return crqsize_; }

 private:
  friend std::unique_ptr<RdmaHostQueue> connect_rdma_host_queue(Reactor&, const HostQueueOptions&, std::uint16_t,
                                                                std::uint16_t, std::string*, bool);
  struct Slot;
  RdmaHostQueue(Reactor& reactor, std::uint16_t qid, std::uint16_t depth);
  bool connect(const HostQueueOptions& options, std::uint16_t cntlid, bool memory_windows, std::string* error);
  bool create_resources(bool memory_windows, std::string* error);
  void create_registration(bool memory_windows);
  bool post_recv(std::uint32_t index);
  static void on_cq_ready(void* self);
  static void on_cm_ready(void* self);
  void handle_completion(const ibv_wc& wc);
  void on_response(std::uint32_t recv_index, const ibv_wc& wc);
  void try_finish(Slot& slot);
  void finish(Slot& slot, nvme::Status transport_status);
  void fail(const std::string& why, nvme::Status status);

  Reactor& reactor_;
  std::uint16_t qid_;
  std::uint16_t depth_;
  std::uint16_t crqsize_ = 0;
  std::uint32_t in_capsule_limit_ = 0;
  std::uint32_t outstanding_ = 0;
  bool alive_ = false;
  bool in_poll_ = false;
  HostQueueError error_;

  rdma_event_channel* channel_ = nullptr;
  rdma_cm_id* id_ = nullptr;
  ibv_pd* pd_ = nullptr;
  ibv_comp_channel* comp_channel_ = nullptr;
  ibv_cq* cq_ = nullptr;
  unsigned unacked_events_ = 0;
  rdma::FdWatch* cq_watch_ = nullptr;
  rdma::FdWatch* cm_watch_ = nullptr;

  std::unique_ptr<rdma::VerbsRegistrar> buffer_registrar_;  ///< Queue-owned buffers (capsules, responses, bounce)
  std::unique_ptr<rdma::VerbsRegistrar> app_registrar_;     ///< Application buffers
  std::unique_ptr<rdma::RegistrationCache> cache_;
  std::unique_ptr<rdma::RegisteredPool> bounce_pool_;
  std::byte* capsules_ = nullptr;  ///< depth command capsules (SQE + in-capsule data)
  rdma::MemoryRegion capsule_region_;
  std::vector<nvme::Cqe> responses_;  ///< depth receive buffers
  rdma::MemoryRegion response_region_;
  std::vector<ibv_mw*> windows_;      ///< One type 2 memory window per slot (empty: not supported)
  std::vector<Slot> slots_;
  std::vector<std::uint16_t> free_slots_;
};

/// Connect queue `qid` of controller `cntlid` (FFFFh or 0 for the admin queue before the controller is known)
/// at options.traddr:trsvcid. Blocks the calling thread (the one that drives `reactor`) for the rdma_cm
/// handshake, at most options.connect_timeout. The NVMe Connect command is then the caller's to submit.
/// nullptr and *error filled (with the reject reason when the controller rejected) on failure.
/// `memory_windows`: per-request windows with remote invalidation (see above), used when the device has them.
std::unique_ptr<RdmaHostQueue> connect_rdma_host_queue(Reactor& reactor, const HostQueueOptions& options,
                                                       std::uint16_t qid, std::uint16_t cntlid, std::string* error,
                                                       bool memory_windows = false);

}  // namespace nvmf::fabric
