// Memory registration of an NVMe/RDMA host queue: the application's buffers go through a registration cache
// (registered on first use or ahead of it with register_buffer(), kept until unregister_buffer() or the queue's
// end), multi-buffer requests through a registered bounce pool; with `memory_windows` each slot gets a type 2
// window that exposes exactly one request's bytes (see host_queue.hpp for why that is off by default).
#include <cerrno>
#include <cstring>

#include "fabric/log.hpp"
#include "fabric/rdma/host_slot.hpp"

namespace nvmf::fabric {

void RdmaHostQueue::create_registration(bool memory_windows) {
  // Probe type 2 memory windows; without them requests use the registration's rkey and no invalidation.
  for (std::uint16_t i = 0; memory_windows && i < depth_; ++i) {
    ibv_mw* mw = ibv_alloc_mw(pd_, IBV_MW_TYPE_2);
    if (!mw) {
      for (auto* w : windows_) ibv_dealloc_mw(w);
      windows_.clear();
      NVMF_LOG(debug, "rdma: qid %u: no type 2 memory windows (%s): keyed SGLs without invalidation", qid_,
               std::strerror(errno));
      break;
    }
    windows_.push_back(mw);
  }
  const int app_access = IBV_ACCESS_LOCAL_WRITE |
                         (windows_.empty() ? IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_WRITE : IBV_ACCESS_MW_BIND);
  app_registrar_ = std::make_unique<rdma::VerbsRegistrar>(pd_, app_access);
  buffer_registrar_ = std::make_unique<rdma::VerbsRegistrar>(pd_, IBV_ACCESS_LOCAL_WRITE);
  cache_ = std::make_unique<rdma::RegistrationCache>(*app_registrar_);
  bounce_pool_ = std::make_unique<rdma::RegisteredPool>(*app_registrar_, rdma::kHostBounceSize, 4, depth_);
}

bool RdmaHostQueue::register_buffer(void* address, std::size_t length, std::string* error) {
  if (!cache_) return false;
  auto* entry = cache_->acquire(address, length, error);
  if (!entry) return false;
  cache_->release(entry);  // stays cached, unused
  return true;
}

void RdmaHostQueue::unregister_buffer(void* address, std::size_t length) {
  if (cache_) cache_->forget(address, length);
}

}  // namespace nvmf::fabric
