// Set-up and end of an ofi host queue (host_queue.hpp): fi_getinfo for the provider and address, the endpoint,
// the queue's own registered buffers with every receive posted, then fi_connect with the NVMe/RDMA connect record
// and the wait for FI_CONNECTED (carrying the accept record) or the reject; afterwards the EQ only reports the end.
#include <rdma/fi_cm.h>
#include <rdma/fi_errno.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "fabric/host_status.hpp"
#include "fabric/log.hpp"
#include "fabric/ofi/host_queue.hpp"
#include "fabric/rdma/capsule.hpp"
#include "fabric/rdma/cm_private_data.hpp"
#include "fabric/reactor.hpp"

namespace nvmf::fabric::ofi {

namespace {
constexpr std::uint32_t kHostCapsuleSize = rdma::kCommandCapsuleHeader + rdma::kHostMaxInCapsule;
constexpr std::size_t kHostBounceSize = 128 * 1024;
}  // namespace

std::unique_ptr<OfiHostQueue> connect_ofi_host_queue(Reactor& reactor, const std::string& provider,
                                                     const HostQueueOptions& options, std::uint16_t qid,
                                                     std::uint16_t cntlid, std::string* error) {
  std::unique_ptr<OfiHostQueue> q(new OfiHostQueue(reactor, qid, options.queue_depth));
  if (!q->connect(provider, options, cntlid, error)) return nullptr;
  return q;
}

OfiHostQueue::OfiHostQueue(Reactor& reactor, std::uint16_t qid, std::uint16_t depth)
    : reactor_(reactor), qid_(qid), depth_(std::max<std::uint16_t>(depth, 2)) {}

bool OfiHostQueue::connect(const std::string& provider, const HostQueueOptions& options, std::uint16_t cntlid,
                           std::string* error) {
  const std::string where = "ofi " + provider + " " + options.traddr + ":" + options.trsvcid + " qid " +
                            std::to_string(qid_);
  auto fail_with = [&](const std::string& what) {
    *error = where + ": " + what;
    return false;
  };
  auto info = get_info(provider, options.traddr, options.trsvcid, false, error);
  if (!info) return false;
  auto fabric = Fabric::open(*info, error);
  if (!fabric) return fail_with(*error);
  EndpointSizes sizes;
  sizes.send_operations = depth_;
  sizes.receives = depth_;
  if (!(endpoint_ = Endpoint::open(std::move(fabric), *info, sizes, error))) return fail_with(*error);
  if (!create_buffers(error)) return fail_with(*error);

  auto request = rdma::make_connect_request(qid_, depth_, cntlid);
  int ret = fi_connect(endpoint_->ep(), info->dest_addr, &request, sizeof request);
  if (ret) return fail_with(error_text("fi_connect", ret));
  // Wait for the answer; the reactor keeps turning (the admin queue's Keep Alive timers must not stall).
  const auto deadline = std::chrono::steady_clock::now() + options.connect_timeout;
  CmEvent event;
  for (;;) {
    const int r = read_cm_event(endpoint_->eq(), &event);
    if (r < 0) return fail_with(std::string("event queue: ") + fi_strerror(event.error));
    if (r > 0) break;
    if (std::chrono::steady_clock::now() >= deadline) return fail_with("connecting: timed out");
    reactor_.run_once(std::chrono::milliseconds(0));
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  if (event.info) fi_freeinfo(event.info);
  if (event.error)
    return fail_with(std::string("connecting: ") + fi_strerror(event.error) +
                     (event.data_length ? ", " + rdma::describe_reject(event.data, event.data_length) : ""));
  if (event.event != FI_CONNECTED) return fail_with("connecting: unexpected event " + std::to_string(event.event));
  const auto crqsize = rdma::parse_accept(event.data, event.data_length);
  if (!crqsize) return fail_with("accept without a valid NVMe/RDMA record");
  if (*crqsize < depth_) depth_ = std::max<std::uint16_t>(*crqsize, 2);
  alive_ = true;
  cq_driver_ = WaitDriver::start(reactor_, endpoint_->fabric(), &endpoint_->cq()->fid, this, &OfiHostQueue::drain_cq,
                                 error, &cq_counters_);
  if (cq_driver_)
    eq_driver_ = WaitDriver::start(reactor_, endpoint_->fabric(), &endpoint_->eq()->fid, this,
                                   &OfiHostQueue::drain_eq, error);
  if (!cq_driver_ || !eq_driver_) return fail_with(*error);
  return true;
}

bool OfiHostQueue::create_buffers(std::string* error) {
  const int mr_mode = endpoint_->mr_mode();
  buffer_registrar_ = std::make_unique<OfiRegistrar>(endpoint_->domain(), FI_SEND | FI_RECV, mr_mode,
                                                     endpoint_->next_key());
  app_registrar_ = std::make_unique<OfiRegistrar>(endpoint_->domain(), FI_SEND | FI_REMOTE_READ | FI_REMOTE_WRITE,
                                                  mr_mode, endpoint_->next_key());
  cache_ = std::make_unique<rdma::RegistrationCache>(*app_registrar_);
  // One buffer per registration: a buffer's address is then its region's start (offset 0 without FI_MR_VIRT_ADDR).
  bounce_pool_ = std::make_unique<rdma::RegisteredPool>(*app_registrar_, kHostBounceSize, 1, depth_);
  capsules_.assign(std::size_t(depth_) * kHostCapsuleSize, std::byte{0});
  if (!buffer_registrar_->register_region(reinterpret_cast<std::uintptr_t>(capsules_.data()), capsules_.size(),
                                          &capsule_region_, error))
    return false;
  responses_.assign(depth_, nvme::Cqe{});
  if (!buffer_registrar_->register_region(reinterpret_cast<std::uintptr_t>(responses_.data()),
                                          responses_.size() * sizeof(nvme::Cqe), &response_region_, error))
    return false;
  slots_.resize(depth_);
  recv_ops_.resize(depth_);
  for (std::uint16_t i = depth_; i-- > 0;) {
    free_slots_.push_back(i);
    slots_[i].send_op.kind = OpKind::send;
    slots_[i].send_op.index = i;
    recv_ops_[i].kind = OpKind::recv;
    recv_ops_[i].index = i;
  }
  for (std::uint16_t i = 0; i < depth_; ++i)
    if (!post_recv(i)) {
      *error = "fi_recv failed";
      return false;
    }
  return true;
}

bool OfiHostQueue::post_recv(std::uint32_t index) {
  return fi_recv(endpoint_->ep(), &responses_[index], sizeof(nvme::Cqe),
                 OfiRegistrar::descriptor(response_region_.handle), 0, &recv_ops_[index].provider) == 0;
}

void OfiHostQueue::drain_eq(void* self_ptr) {
  auto* self = static_cast<OfiHostQueue*>(self_ptr);
  CmEvent event;
  for (;;) {
    const int r = read_cm_event(self->endpoint_->eq(), &event);
    if (r == 0) return;
    if (event.info) fi_freeinfo(event.info);
    if (r < 0 || event.error || event.event == FI_SHUTDOWN) {
      if (self->alive_) self->fail("controller disconnected", host_path_error());
      return;
    }
  }
}

void OfiHostQueue::set_in_capsule_limit(std::uint32_t limit) { in_capsule_limit_ = rdma::host_in_capsule_limit(limit); }

bool OfiHostQueue::register_buffer(void* address, std::size_t length, std::string* error) {
  if (!cache_) return false;
  auto* entry = cache_->acquire(address, length, error);
  if (!entry) return false;
  cache_->release(entry);
  return true;
}

void OfiHostQueue::unregister_buffer(void* address, std::size_t length) {
  if (cache_) cache_->forget(address, length);
}

void OfiHostQueue::close() {
  if (alive_) fail("closed", host_aborted());
}

void OfiHostQueue::fail(const std::string& why, nvme::Status status) {
  if (!alive_) return;
  alive_ = false;
  error_.message = why;
  char counters[160];
  cq_counters_.format(counters, sizeof counters);
  NVMF_LOG(debug, "ofi: qid %u: %s; %s", qid_, why.c_str(), counters);
  if (endpoint_ && endpoint_->ep()) fi_shutdown(endpoint_->ep(), 0);
  // No transfer may touch the application's buffers once their requests are completed.
  if (endpoint_) endpoint_->close_endpoint();
  for (auto& slot : slots_)
    if (slot.busy) finish(slot, status);
}

OfiHostQueue::~OfiHostQueue() {
  close();
  cq_driver_.reset();
  eq_driver_.reset();
  if (endpoint_) endpoint_->close_endpoint();
  bounce_pool_.reset();
  cache_.reset();
  if (buffer_registrar_) {
    if (capsule_region_.handle) buffer_registrar_->deregister_region(capsule_region_);
    if (response_region_.handle) buffer_registrar_->deregister_region(response_region_);
  }
}

}  // namespace nvmf::fabric::ofi
