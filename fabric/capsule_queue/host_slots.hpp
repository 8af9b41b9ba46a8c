// The host side of an NVMe/RDMA-format capsule queue that does not depend on how bytes move: the per-command slot,
// where a request's data goes (in the capsule, a registered application buffer or a bounce buffer), matching a
// response to its slot by CID, and handing the completion back. The rdma (verbs) and ofi (libfabric) host queues
// keep their own posting and completion calls and share this. No allocation on success paths: the data path.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "fabric/host_transport.hpp"
#include "fabric/rdma/registered_pool.hpp"
#include "fabric/rdma/registration_cache.hpp"

namespace nvmf::fabric {
class Reactor;
}

namespace nvmf::fabric::capsule_queue {

/// One outstanding command. Transports that track more per command derive from it.
struct HostSlot {
  HostRequest* req = nullptr;
  bool busy = false;
  bool send_done = false;
  bool response_done = false;
  nvme::Cqe response{};
  rdma::RegistrationCache::Entry* registration = nullptr;  ///< Single-buffer keyed data
  rdma::RegisteredPool::Buffer bounce;                      ///< Multi-buffer keyed data, staged here
};

/// Bytes the request moves (its iovecs' sum, saturated at 4 GiB - 1).
std::uint32_t request_length(const HostRequest& req);
/// Copies the request's iovecs into `out` (host-to-controller data for a capsule or a bounce buffer).
void gather(const HostRequest& req, std::byte* out);

/// Registered memory a keyed SGL names: the host's virtual address of the data, the start of the registration
/// holding it (libfabric providers without FI_MR_VIRT_ADDR count from there), the provider's handle and key.
struct KeyedRegion {
  std::uintptr_t address = 0;
  std::uintptr_t region_start = 0;
  void* handle = nullptr;
  std::uint32_t rkey = 0;
};

/// Maps the data of a keyed request into registered memory: the application's buffer through `cache` when it is
/// one iovec, else a bounce buffer from `bounce_pool` (filled for host-to-controller data). Records what it took
/// in `slot`. Empty on success, else why not (and `slot` holds nothing).
std::string map_keyed_data(HostSlot& slot, const HostRequest& req, std::uint32_t length,
                           rdma::RegistrationCache& cache, rdma::RegisteredPool& bounce_pool, KeyedRegion* out);

/// Gives back what map_keyed_data took.
void release_keyed_data(HostSlot& slot, rdma::RegistrationCache& cache, rdma::RegisteredPool& bounce_pool);

/// A request whose data cannot be mapped: logged, and completed on the next reactor turn with Internal Error
/// (do not retry), never from inside submit().
void refuse_unmappable(HostRequest& req, std::uint16_t cid, Reactor& reactor, const char* transport, std::uint16_t qid,
                       const std::string& why);

/// Fills req.cqe for a finished slot: the controller's response (bounced read data copied out first) when the
/// transport status is success, else a host-side status with the slot's CID.
void fill_completion(const HostSlot& slot, std::uint16_t cid, nvme::Status transport_status);

/// The slot a response names, or nullptr when its CID is not outstanding or already answered (a protocol error).
template <class Slot>
Slot* slot_for_response(std::vector<Slot>& slots, const nvme::Cqe& cqe) {
  if (cqe.cid >= slots.size()) return nullptr;
  Slot& slot = slots[cqe.cid];
  return slot.busy && !slot.response_done ? &slot : nullptr;
}

}  // namespace nvmf::fabric::capsule_queue
