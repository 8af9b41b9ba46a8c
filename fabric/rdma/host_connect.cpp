// Connection set-up of an NVMe/RDMA host queue through rdma_cm: address, route, then the connect request with
// the NVMe/RDMA private data (NVMe/RDMA transport spec 3.1.x: QID, HRQSIZE, HSQSIZE, CNTLID) and the
// controller's accept (CRQSIZE) or reject. Afterwards the CM channel only reports the connection's end.
#include <fcntl.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "fabric/host_status.hpp"
#include "fabric/log.hpp"
#include "fabric/rdma/cm_address.hpp"
#include "fabric/rdma/cm_private_data.hpp"
#include "fabric/rdma/fd_watch.hpp"
#include "fabric/rdma/host_queue.hpp"
#include "fabric/reactor.hpp"

namespace nvmf::fabric {

namespace {
// Wait for the next rdma_cm event on a non-blocking channel; false on timeout. The reactor keeps turning
// meanwhile (every few milliseconds): its timers, such as the admin queue's Keep Alive, must not stall while a
// queue connects.
bool wait_cm_event(Reactor& reactor, rdma_event_channel* channel, std::chrono::steady_clock::time_point deadline,
                   rdma_cm_event** event) {
  constexpr std::int64_t kTurnMs = 5;
  for (;;) {
    if (rdma_get_cm_event(channel, event) == 0) return true;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd pfd{channel->fd, POLLIN, 0};
    ::poll(&pfd, 1, static_cast<int>(std::min<std::int64_t>(left.count(), kTurnMs)));
    reactor.run_once(std::chrono::milliseconds(0));
  }
}
}  // namespace

bool RdmaHostQueue::connect(const HostQueueOptions& options, std::uint16_t cntlid, bool memory_windows,
                            std::string* error) {
  const std::string where = "rdma " + options.traddr + ":" + options.trsvcid + " qid " + std::to_string(qid_);
  auto fail_with = [&](const std::string& what) {
    *error = where + ": " + what;
    return false;
  };
  auto sys_fail = [&](const char* what) { return fail_with(std::string(what) + ": " + std::strerror(errno)); };
  const auto deadline = std::chrono::steady_clock::now() + options.connect_timeout;
  const int timeout_ms = static_cast<int>(std::max<std::int64_t>(1, options.connect_timeout.count()));

  sockaddr_storage sa{};
  if (!rdma::make_sockaddr(options.traddr, options.trsvcid, &sa, error)) return false;
  if (!(channel_ = rdma_create_event_channel())) return sys_fail("rdma_create_event_channel (no RDMA device?)");
  fcntl(channel_->fd, F_SETFL, fcntl(channel_->fd, F_GETFL) | O_NONBLOCK);
  if (rdma_create_id(channel_, &id_, nullptr, RDMA_PS_TCP) != 0) return sys_fail("rdma_create_id");

  // Address, then route, then the connection: each step is one expected event.
  auto expect = [&](rdma_cm_event_type wanted, const char* step, auto&& on_event) {
    rdma_cm_event* event = nullptr;
    if (!wait_cm_event(reactor_, channel_, deadline, &event)) return fail_with(std::string(step) + ": timed out");
    const auto type = event->event;
    std::string detail;
    bool ok = type == wanted;
    if (ok) {
      ok = on_event(event, &detail);
    } else if (type == RDMA_CM_EVENT_REJECTED) {
      detail = rdma::describe_reject(event->param.conn.private_data, event->param.conn.private_data_len);
    } else {
      detail = std::string(rdma_event_str(type)) + " (status " + std::to_string(event->status) + ")";
    }
    rdma_ack_cm_event(event);
    return ok ? true : fail_with(std::string(step) + ": " + detail);
  };
  auto no_check = [](rdma_cm_event*, std::string*) { return true; };

  if (rdma_resolve_addr(id_, nullptr, reinterpret_cast<sockaddr*>(&sa), timeout_ms) != 0)
    return sys_fail("rdma_resolve_addr");
  if (!expect(RDMA_CM_EVENT_ADDR_RESOLVED, "resolving the address", no_check)) return false;
  if (rdma_resolve_route(id_, timeout_ms) != 0) return sys_fail("rdma_resolve_route");
  if (!expect(RDMA_CM_EVENT_ROUTE_RESOLVED, "resolving the route", no_check)) return false;
  if (!create_resources(memory_windows, error)) return fail_with(*error);

  auto request = rdma::make_connect_request(qid_, depth_, cntlid);
  ibv_device_attr attr{};
  ibv_query_device(id_->verbs, &attr);
  rdma_conn_param conn{};
  conn.private_data = &request;
  conn.private_data_len = sizeof request;
  // The controller RDMA READs our write data: offer what the device allows. We never read from it.
  conn.responder_resources = static_cast<std::uint8_t>(std::clamp(attr.max_qp_rd_atom, 1, 255));
  conn.initiator_depth = 0;
  conn.retry_count = 7;      // as the Linux host
  conn.rnr_retry_count = 7;  // 7: retry forever on receiver-not-ready
  conn.flow_control = 1;
  if (rdma_connect(id_, &conn) != 0) return sys_fail("rdma_connect");
  if (!expect(RDMA_CM_EVENT_ESTABLISHED, "connecting", [this](rdma_cm_event* event, std::string* detail) {
        auto crqsize = rdma::parse_accept(event->param.conn.private_data, event->param.conn.private_data_len);
        if (!crqsize) {
          *detail = "accept without a valid NVMe/RDMA record";
          return false;
        }
        crqsize_ = *crqsize;
        return true;
      }))
    return false;
  // More commands than the controller has receive buffers for would only meet RNR retries.
  if (crqsize_ < depth_) {
    NVMF_LOG(info, "rdma: qid %u: controller receive queue %u < depth %u, lowering the depth", qid_, crqsize_,
             depth_);
    depth_ = std::max<std::uint16_t>(crqsize_, 1);
  }
  alive_ = true;
  cq_watch_ = rdma::FdWatch::start(reactor_, comp_channel_->fd, this, &RdmaHostQueue::on_cq_ready);
  cm_watch_ = rdma::FdWatch::start(reactor_, channel_->fd, this, &RdmaHostQueue::on_cm_ready);
  return true;
}

void RdmaHostQueue::on_cm_ready(void* self_ptr) {
  auto* self = static_cast<RdmaHostQueue*>(self_ptr);
  rdma_cm_event* event = nullptr;
  while (rdma_get_cm_event(self->channel_, &event) == 0) {
    const auto type = event->event;
    rdma_ack_cm_event(event);
    if (type == RDMA_CM_EVENT_DISCONNECTED || type == RDMA_CM_EVENT_DEVICE_REMOVAL ||
        type == RDMA_CM_EVENT_TIMEWAIT_EXIT) {
      if (self->alive_)
        self->fail(std::string("controller disconnected (") + rdma_event_str(type) + ")", host_path_error());
    }
  }
}

}  // namespace nvmf::fabric
