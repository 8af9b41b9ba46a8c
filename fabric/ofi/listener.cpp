#include "fabric/ofi/listener.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <rdma/fi_cm.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_eq.h>

#include <stdexcept>

#include "fabric/log.hpp"
#include "fabric/ofi/controller_queue.hpp"
#include "fabric/ofi/endpoint.hpp"
#include "fabric/ofi/ofi_info.hpp"
#include "fabric/ofi/wait_driver.hpp"
#include "fabric/rdma/cm_private_data.hpp"

namespace nvmf::fabric {

namespace {

// Lives on the listening reactor; shared with the tasks posted to it so that the handle can go away from any thread.
struct OfiListenCore : std::enable_shared_from_this<OfiListenCore> {
  ReactorGroup& group;
  Reactor& reactor;
  ListenAddress address;
  TransportLimits limits;
  QueueHandlerFactory& factory;
  std::shared_ptr<ofi::Fabric> fabric;
  fid_pep* pep = nullptr;
  fid_eq* eq = nullptr;
  std::unique_ptr<ofi::WaitDriver> driver;
  bool stopped = false;

  OfiListenCore(ReactorGroup& g, Reactor& r, const ListenAddress& a, const TransportLimits& l, QueueHandlerFactory& f)
      : group(g), reactor(r), address(a), limits(l), factory(f) {}
  ~OfiListenCore() { close(); }
  void close() {
    driver.reset();
    ofi::close_fid(pep ? &pep->fid : nullptr);
    ofi::close_fid(eq ? &eq->fid : nullptr);
    pep = nullptr;
    eq = nullptr;
  }

  static void drain(void* self) { static_cast<OfiListenCore*>(self)->drain_events(); }

  void drain_events() {
    ofi::CmEvent event;
    while (!stopped) {
      const int r = ofi::read_cm_event(eq, &event);
      if (r == 0) return;
      if (r < 0) {
        NVMF_LOG(error, "ofi: listener %s: event queue failed: %s", address.to_string().c_str(),
                 fi_strerror(event.error));
        return;
      }
      if (event.error) {
        NVMF_LOG(debug, "ofi: listener %s: error event: %s", address.to_string().c_str(), fi_strerror(event.error));
        continue;
      }
      if (event.event != FI_CONNREQ || !event.info) {
        if (event.info) fi_freeinfo(event.info);
        continue;
      }
      on_connect_request(ofi::InfoPtr(event.info), event.data, event.data_length);
    }
  }

  void on_connect_request(ofi::InfoPtr info, const std::uint8_t* data, std::size_t length) {
    rdma::CmLimits cm_limits;
    cm_limits.max_queue_depth = limits.max_queue_depth;
    // libfabric has no read depth to negotiate; the controller queue bounds its own outstanding reads instead.
    auto v = rdma::validate_connect_request(length ? data : nullptr, length, ofi::kMaxReadsPerQueue, cm_limits);
    if (v.reject) {
      NVMF_LOG(warn, "ofi: %s: connect request rejected, %s: %s", address.to_string().c_str(),
               rdma::reject_status_name(*v.reject), v.reason.c_str());
      auto rej = rdma::make_reject(*v.reject);
      fi_reject(pep, info->handle, &rej, sizeof rej);
      return;
    }
    Reactor& target = group.next();
    auto shared_info = std::shared_ptr<fi_info>(info.release(), ofi::InfoDeleter{});
    auto fabric_ref = fabric;
    rdma::CmConnectParams params = v.params;
    TransportLimits l = limits;
    QueueHandlerFactory* f = &factory;
    std::string where = address.to_string();
    // fi_reject goes through the passive endpoint, which only this (the listening) reactor touches; the handle in
    // shared_info stays valid until the request is accepted or rejected.
    std::weak_ptr<OfiListenCore> weak_core = weak_from_this();
    ofi::RejectConnect reject = [weak_core, shared_info](nvme::rdma::CmRejectStatus status) {
      auto core = weak_core.lock();
      if (!core) return;
      core->reactor.post([core, shared_info, status] {
        if (core->stopped || !core->pep) return;
        auto rej = rdma::make_reject(status);
        const int ret = fi_reject(core->pep, shared_info->handle, &rej, sizeof rej);
        if (ret)
          NVMF_LOG(warn, "ofi: %s: %s", core->address.to_string().c_str(), ofi::error_text("fi_reject", ret).c_str());
      });
    };
    target.post([&target, fabric_ref, shared_info, params, l, f, where, reject = std::move(reject)] {
      ofi::OfiControllerQueue::accept(target, fabric_ref, *shared_info, params, l, *f, where, reject);
    });
  }
};

class OfiListener final : public Listener {
 public:
  explicit OfiListener(std::shared_ptr<OfiListenCore> core) : core_(std::move(core)) {}
  ~OfiListener() override { stop(); }
  const ListenAddress& address() const override { return core_->address; }
  void stop() override {
    if (stop_requested_) return;
    stop_requested_ = true;
    auto core = core_;
    core->reactor.post([core] {
      core->stopped = true;
      core->close();
    });
  }

 private:
  std::shared_ptr<OfiListenCore> core_;
  bool stop_requested_ = false;
};

}  // namespace

std::unique_ptr<Listener> listen_ofi(ReactorGroup& group, const ListenAddress& address, const TransportLimits& limits,
                                     QueueHandlerFactory& factory) {
  const std::string where = address.to_string();
  auto fail = [&where](const std::string& what) {
    throw std::runtime_error("ofi: cannot listen on " + where + ": " + what);
  };
  if (address.trtype != TransportType::ofi) fail("transport type is not ofi");
  std::string error;
  auto info = ofi::get_info(address.provider, address.traddr, address.trsvcid, true, &error);
  if (!info) fail(error);
  Reactor& reactor = group.next();
  auto core = std::make_shared<OfiListenCore>(group, reactor, address, limits, factory);
  if (!(core->fabric = ofi::Fabric::open(*info, &error))) fail(error);
  fi_eq_attr eq_attr{};
  eq_attr.size = 64;
  eq_attr.wait_obj = FI_WAIT_FD;
  int ret = fi_eq_open(core->fabric->get(), &eq_attr, &core->eq, nullptr);
  if (ret) fail(ofi::error_text("fi_eq_open", ret));
  if ((ret = fi_passive_ep(core->fabric->get(), info.get(), &core->pep, nullptr))) fail(ofi::error_text("fi_passive_ep", ret));
  if ((ret = fi_pep_bind(core->pep, &core->eq->fid, 0))) fail(ofi::error_text("fi_pep_bind", ret));
  if ((ret = fi_listen(core->pep))) fail(ofi::error_text("fi_listen", ret));
  // Port 0 asks for an ephemeral port: report the one bound (sockaddr formats: FI_SOCKADDR_IN and _IN6).
  sockaddr_storage bound{};
  std::size_t bound_len = sizeof bound;
  if (fi_getname(&core->pep->fid, &bound, &bound_len) == 0) {
    if (bound.ss_family == AF_INET) core->address.trsvcid = std::to_string(ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port));
    if (bound.ss_family == AF_INET6) core->address.trsvcid = std::to_string(ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port));
  }
  NVMF_LOG(info, "ofi: listening on %s (provider %s)", core->address.to_string().c_str(),
           info->fabric_attr->prov_name);
  reactor.post([core] {
    if (core->stopped) return;
    std::string why;
    core->driver = ofi::WaitDriver::start(core->reactor, core->fabric->get(), &core->eq->fid, core.get(),
                                          &OfiListenCore::drain, &why);
    if (!core->driver) NVMF_LOG(error, "ofi: listener %s: %s", core->address.to_string().c_str(), why.c_str());
  });
  return std::make_unique<OfiListener>(core);
}

}  // namespace nvmf::fabric
