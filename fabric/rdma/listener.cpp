#include "fabric/rdma/listener.hpp"

#include <fcntl.h>
#include <rdma/rdma_cma.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "fabric/log.hpp"
#include "fabric/rdma/cm_address.hpp"
#include "fabric/rdma/cm_private_data.hpp"
#include "fabric/rdma/controller_queue.hpp"
#include "fabric/rdma/fd_watch.hpp"

namespace nvmf::fabric {

namespace {

using rdma::CmConnectParams;

constexpr int kBacklog = 128;

// Lives on the listening reactor; shared with the tasks posted to it so that the RdmaListener handle can go
// away from any thread.
struct ListenCore {
  ReactorGroup& group;
  Reactor& reactor;
  ListenAddress address;
  TransportLimits limits;
  QueueHandlerFactory& factory;
  rdma_event_channel* channel = nullptr;
  rdma_cm_id* id = nullptr;
  rdma::FdWatch* watch = nullptr;
  bool stopped = false;

  ListenCore(ReactorGroup& g, Reactor& r, const ListenAddress& a, const TransportLimits& l, QueueHandlerFactory& f)
      : group(g), reactor(r), address(a), limits(l), factory(f) {}
  ~ListenCore() {
    if (id) rdma_destroy_id(id);
    if (channel) rdma_destroy_event_channel(channel);
  }

  static void on_ready(void* self) { static_cast<ListenCore*>(self)->drain_events(); }

  void drain_events() {
    rdma_cm_event* event = nullptr;
    while (!stopped && rdma_get_cm_event(channel, &event) == 0) {
      if (event->event != RDMA_CM_EVENT_CONNECT_REQUEST) {
        NVMF_LOG(debug, "rdma: listener %s: %s", address.to_string().c_str(), rdma_event_str(event->event));
        rdma_ack_cm_event(event);
        continue;
      }
      rdma_cm_id* child = event->id;
      std::uint8_t data[256];
      const std::size_t length = std::min<std::size_t>(event->param.conn.private_data_len, sizeof data);
      if (event->param.conn.private_data) std::memcpy(data, event->param.conn.private_data, length);
      // The passive side sees the host's responder resources as its own initiator depth.
      const std::uint8_t host_ird = event->param.conn.initiator_depth;
      const bool has_data = event->param.conn.private_data != nullptr;
      rdma_ack_cm_event(event);
      on_connect_request(child, has_data ? data : nullptr, has_data ? length : 0, host_ird);
    }
  }

  void on_connect_request(rdma_cm_id* child, const std::uint8_t* data, std::size_t length, std::uint8_t host_ird) {
    const std::string peer = rdma::format_sockaddr(rdma_get_peer_addr(child));
    rdma::CmLimits cm_limits;
    cm_limits.max_queue_depth = limits.max_queue_depth;
    ibv_device_attr attr{};
    if (child->verbs && ibv_query_device(child->verbs, &attr) == 0)
      cm_limits.device_max_read_depth = static_cast<std::uint8_t>(std::clamp(attr.max_qp_init_rd_atom, 1, 255));
    auto v = rdma::validate_connect_request(data, length, host_ird, cm_limits);
    if (v.reject) {
      NVMF_LOG(warn, "rdma: %s: connect request rejected, %s: %s", peer.c_str(),
               rdma::reject_status_name(*v.reject), v.reason.c_str());
      reject(child, *v.reject);
      return;
    }
    // Each queue gets its own event channel, watched by the reactor that owns the queue.
    rdma_event_channel* queue_channel = rdma_create_event_channel();
    if (!queue_channel || rdma_migrate_id(child, queue_channel) != 0) {
      NVMF_LOG(error, "rdma: %s: moving the connection to its own event channel: %s", peer.c_str(),
               std::strerror(errno));
      if (queue_channel) rdma_destroy_event_channel(queue_channel);
      reject(child, nvme::rdma::CmRejectStatus::no_resources);
      return;
    }
    Reactor& target = group.next();
    CmConnectParams params = v.params;
    TransportLimits l = limits;
    QueueHandlerFactory* f = &factory;
    target.post([&target, child, queue_channel, params, l, f] {
      rdma::RdmaControllerQueue::accept(target, child, queue_channel, params, l, *f);
    });
  }

  static void reject(rdma_cm_id* child, nvme::rdma::CmRejectStatus status) {
    auto rej = rdma::make_reject(status);
    rdma_reject(child, &rej, sizeof rej);
    rdma_destroy_id(child);
  }
};

class RdmaListener final : public Listener {
 public:
  explicit RdmaListener(std::shared_ptr<ListenCore> core) : core_(std::move(core)) {}
  ~RdmaListener() override { stop(); }
  const ListenAddress& address() const override { return core_->address; }
  void stop() override {
    if (stop_requested_) return;
    stop_requested_ = true;
    auto core = core_;
    core->reactor.post([core] {
      core->stopped = true;
      if (core->watch) core->watch->detach();
      core->watch = nullptr;
      rdma_destroy_id(core->id);
      core->id = nullptr;
    });
  }

 private:
  std::shared_ptr<ListenCore> core_;
  bool stop_requested_ = false;
};

}  // namespace

std::unique_ptr<Listener> listen_rdma(ReactorGroup& group, const ListenAddress& address,
                                      const TransportLimits& limits, QueueHandlerFactory& factory) {
  const std::string where = address.to_string();
  auto fail = [&where](const std::string& what) {
    throw std::runtime_error("rdma: cannot listen on " + where + ": " + what);
  };
  if (address.trtype != TransportType::rdma) fail("transport type is not rdma");
  sockaddr_storage sa{};
  std::string error;
  if (!rdma::make_sockaddr(address.traddr, address.trsvcid, &sa, &error)) fail(error);

  Reactor& reactor = group.next();
  auto core = std::make_shared<ListenCore>(group, reactor, address, limits, factory);
  if (!(core->channel = rdma_create_event_channel()))
    fail(std::string("rdma_create_event_channel: ") + std::strerror(errno) + " (is an RDMA device present?)");
  fcntl(core->channel->fd, F_SETFL, fcntl(core->channel->fd, F_GETFL) | O_NONBLOCK);
  if (rdma_create_id(core->channel, &core->id, nullptr, RDMA_PS_TCP) != 0)
    fail(std::string("rdma_create_id: ") + std::strerror(errno));
  if (rdma_bind_addr(core->id, reinterpret_cast<sockaddr*>(&sa)) != 0)
    fail(std::string("rdma_bind_addr: ") + std::strerror(errno) + " (no RDMA device on this address?)");
  if (rdma_listen(core->id, kBacklog) != 0) fail(std::string("rdma_listen: ") + std::strerror(errno));
  NVMF_LOG(info, "rdma: listening on %s", where.c_str());
  reactor.post([core] {
    if (!core->stopped) core->watch = rdma::FdWatch::start(core->reactor, core->channel->fd, core.get(),
                                                           &ListenCore::on_ready);
  });
  return std::make_unique<RdmaListener>(core);
}

}  // namespace nvmf::fabric
