// Host-side capsule queue logic shared by the rdma and ofi transports (host_slots.hpp).
#include "fabric/capsule_queue/host_slots.hpp"

#include <cstring>

#include "fabric/log.hpp"
#include "fabric/rdma/capsule.hpp"
#include "fabric/reactor.hpp"

namespace nvmf::fabric::capsule_queue {

using nvme::Status;

std::uint32_t request_length(const HostRequest& req) {
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

namespace {
void scatter(const std::byte* in, const HostRequest& req) {
  for (std::uint32_t i = 0; i < req.iovcnt; ++i) {
    std::memcpy(req.iov[i].iov_base, in, req.iov[i].iov_len);
    in += req.iov[i].iov_len;
  }
}
}  // namespace

std::string map_keyed_data(HostSlot& slot, const HostRequest& req, std::uint32_t length,
                           rdma::RegistrationCache& cache, rdma::RegisteredPool& bounce_pool, KeyedRegion* out) {
  slot.registration = nullptr;
  slot.bounce = {};
  std::string why;
  if (length > rdma::kMaxKeyedLength || (req.iovcnt > 1 && length > bounce_pool.buffer_size()))
    return "transfer of " + std::to_string(length) + " bytes in " + std::to_string(req.iovcnt) +
           " buffers exceeds the keyed SGL limit";
  if (req.iovcnt == 1) {
    slot.registration = cache.acquire(req.iov[0].iov_base, length, &why);
    if (!slot.registration) return why;
    const rdma::MemoryRegion& region = slot.registration->region;
    *out = KeyedRegion{reinterpret_cast<std::uintptr_t>(req.iov[0].iov_base), region.start, region.handle,
                       region.rkey};
    return {};
  }
  slot.bounce = bounce_pool.get();
  if (!slot.bounce)  // all out (the pool holds one per slot, so a caller bug) or its registration failed
    return bounce_pool.last_error().empty() ? "no bounce buffer free" : bounce_pool.last_error();
  if (req.direction == DataDirection::host_to_controller) gather(req, slot.bounce.data);
  // Each bounce buffer is a registration of its own (one per chunk), so it starts its region.
  const auto start = reinterpret_cast<std::uintptr_t>(slot.bounce.data);
  *out = KeyedRegion{start, start, slot.bounce.handle, slot.bounce.rkey};
  return {};
}

void release_keyed_data(HostSlot& slot, rdma::RegistrationCache& cache, rdma::RegisteredPool& bounce_pool) {
  if (slot.registration) cache.release(slot.registration);
  bounce_pool.put(slot.bounce);
  slot.registration = nullptr;
  slot.bounce = {};
}

void refuse_unmappable(HostRequest& req, std::uint16_t cid, Reactor& reactor, const char* transport, std::uint16_t qid,
                       const std::string& why) {
  NVMF_LOG(error, "%s: qid %u: cannot map request data: %s", transport, qid, why.c_str());
  HostRequest* r = &req;
  r->cqe = nvme::Cqe{};
  r->cqe.cid = cid;
  r->cqe.set_status(Status::make(NVME_SCT_GENERIC, NVME_SC_INTERNAL, true));
  reactor.defer([r] { r->on_complete(*r); });
}

void fill_completion(const HostSlot& slot, std::uint16_t cid, Status transport_status) {
  HostRequest& req = *slot.req;
  if (transport_status.ok()) {
    if (slot.bounce && req.direction == DataDirection::controller_to_host && slot.response.get_status().ok())
      scatter(slot.bounce.data, req);
    req.cqe = slot.response;
  } else {
    req.cqe = nvme::Cqe{};
    req.cqe.cid = cid;
    req.cqe.set_status(transport_status);
  }
}

}  // namespace nvmf::fabric::capsule_queue
