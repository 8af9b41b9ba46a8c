// The queue's life: creation (host_connect.cpp does the rdma_cm part, host_resources.cpp the verbs objects),
// the in-capsule limit, and its end, by failure or by close(). Requests still outstanding complete with the
// transport status given.
#include "fabric/rdma/host_queue.hpp"

#include <rdma/rdma_cma.h>

#include "fabric/host_status.hpp"
#include "fabric/log.hpp"
#include "fabric/rdma/host_slot.hpp"

namespace nvmf::fabric {

using nvme::Status;

RdmaHostQueue::RdmaHostQueue(Reactor& reactor, std::uint16_t qid, std::uint16_t depth)
    : reactor_(reactor), qid_(qid), depth_(depth) {}

std::unique_ptr<RdmaHostQueue> connect_rdma_host_queue(Reactor& reactor, const HostQueueOptions& options,
                                                       std::uint16_t qid, std::uint16_t cntlid, std::string* error,
                                                       bool memory_windows) {
  std::string local_error;
  std::string* err = error ? error : &local_error;
  if (options.queue_depth < 2) {
    *err = "queue depth " + std::to_string(options.queue_depth) + " < 2";
    return nullptr;
  }
  std::unique_ptr<RdmaHostQueue> q(new RdmaHostQueue(reactor, qid, options.queue_depth));
  if (!q->connect(options, cntlid, memory_windows, err)) return nullptr;
  return q;
}

void RdmaHostQueue::set_in_capsule_limit(std::uint32_t limit) {
  in_capsule_limit_ = rdma::host_in_capsule_limit(limit);
}

void RdmaHostQueue::fail(const std::string& why, Status status) {
  if (!alive_) return;
  alive_ = false;
  error_.message = why;
  if (status == host_aborted())
    NVMF_LOG(debug, "rdma: qid %u: %s", qid_, why.c_str());
  else
    NVMF_LOG(warn, "rdma: qid %u: %s", qid_, why.c_str());
  rdma_disconnect(id_);  // moves the QP to the error state: the controller can no longer touch our memory
  for (auto& slot : slots_)
    if (slot.busy) finish(slot, status);
}

void RdmaHostQueue::close() {
  if (alive_) fail("closed by the host", host_aborted());
}

}  // namespace nvmf::fabric
