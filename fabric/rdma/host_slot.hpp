// Inside the NVMe/RDMA host queue (host_queue.hpp): the per-command slot and the sizes of the queue's own
// buffers, shared by the files that make up RdmaHostQueue (resources, submit, completions). Not for users of the
// queue.
#pragma once
#include <cstddef>
#include <cstdint>

#include "fabric/capsule_queue/host_slots.hpp"
#include "fabric/rdma/capsule.hpp"
#include "fabric/rdma/host_queue.hpp"

namespace nvmf::fabric {

namespace rdma {
inline constexpr std::uint32_t kHostCapsuleSize = kCommandCapsuleHeader + kHostMaxInCapsule;  ///< One send buffer
inline constexpr std::size_t kHostBounceSize = 128 * 1024;  ///< Multi-buffer requests are staged through these
inline constexpr std::size_t kHostBufferAlignment = 4096;
}  // namespace rdma

struct RdmaHostQueue::Slot : capsule_queue::HostSlot {
  bool invalidating = false;  ///< LOCAL_INV of the window posted, not yet completed
  bool window_bound = false;
  std::uint32_t window_rkey = 0;
  std::uint32_t length = 0;
};

}  // namespace nvmf::fabric
