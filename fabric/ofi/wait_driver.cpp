#include "fabric/ofi/wait_driver.hpp"

#include <rdma/fi_eq.h>

#include "fabric/ofi/ofi_info.hpp"
#include "fabric/rdma/fd_watch.hpp"
#include "fabric/reactor.hpp"

namespace nvmf::fabric::ofi {

std::unique_ptr<WaitDriver> WaitDriver::start(Reactor& reactor, fid_fabric* fabric, fid* object, void* owner,
                                              Drain drain, std::string* error, CqCounters* counters) {
  std::unique_ptr<WaitDriver> d(new WaitDriver(reactor, fabric, object, owner, drain, counters));
  if (reactor.busy_poll()) {
    d->busy_poll_ = true;
    reactor.add_poller(&WaitDriver::on_ready, d.get());
    d->run();
    return d;
  }
  int fd = -1;
  const int ret = fi_control(object, FI_GETWAIT, &fd);
  if (ret != 0 || fd < 0) {
    *error = error_text("fi_control(FI_GETWAIT)", ret);
    return nullptr;
  }
  d->watch_ = rdma::FdWatch::start(reactor, fd, d.get(), &WaitDriver::on_ready);
  // Whatever arrived before the watch was armed: read it now, then wait only when fi_trywait allows.
  d->run();
  return d;
}

WaitDriver::WaitDriver(Reactor& reactor, fid_fabric* fabric, fid* object, void* owner, Drain drain,
                       CqCounters* counters)
    : reactor_(reactor), fabric_(fabric), object_(object), owner_(owner), drain_(drain), counters_(counters) {}

WaitDriver::~WaitDriver() {
  if (watch_) watch_->detach();
  if (busy_poll_) reactor_.remove_poller(this);
}

void WaitDriver::on_ready(void* self) { static_cast<WaitDriver*>(self)->run(); }

void WaitDriver::run() {
  if (counters_) ++counters_->wakeups;
  if (busy_poll_) {
    drain_(owner_);  // and again at the next turn: the reactor's poller
    return;
  }
  for (;;) {
    drain_(owner_);
    fid* objects[1] = {object_};
    // FI_SUCCESS: nothing left, the fd will signal the next event. -FI_EAGAIN: read again first.
    if (fi_trywait(fabric_, objects, 1) != -FI_EAGAIN) return;
    if (counters_) ++counters_->trywait_again;
  }
}

}  // namespace nvmf::fabric::ofi
