#include "fabric/ofi/wait_driver.hpp"

#include <rdma/fi_eq.h>

#include "fabric/ofi/ofi_info.hpp"
#include "fabric/rdma/fd_watch.hpp"
#include "fabric/reactor.hpp"

namespace nvmf::fabric::ofi {

// Busy poll: a task deferred to every reactor turn. It holds one pointer, so std::function keeps it inline (no
// allocation per turn); the Poller outlives the driver by one turn, which is how the task learns to stop.
struct WaitDriver::Poller {
  WaitDriver* driver;
  static void schedule(Reactor& reactor, Poller* p) {
    reactor.defer([p] {
      if (!p->driver) {
        delete p;
        return;
      }
      p->driver->run();
    });
  }
};

std::unique_ptr<WaitDriver> WaitDriver::start(Reactor& reactor, fid_fabric* fabric, fid* object, void* owner,
                                              Drain drain, std::string* error) {
  std::unique_ptr<WaitDriver> d(new WaitDriver(reactor, fabric, object, owner, drain));
  if (reactor.busy_poll()) {
    d->poller_ = new Poller{d.get()};
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

WaitDriver::WaitDriver(Reactor& reactor, fid_fabric* fabric, fid* object, void* owner, Drain drain)
    : reactor_(reactor), fabric_(fabric), object_(object), owner_(owner), drain_(drain) {}

WaitDriver::~WaitDriver() {
  if (watch_) watch_->detach();
  if (poller_) poller_->driver = nullptr;
}

void WaitDriver::on_ready(void* self) { static_cast<WaitDriver*>(self)->run(); }

void WaitDriver::run() {
  if (poller_) {
    // Busy poll: drain now and again at the next turn, for as long as the driver lives. The owner never
    // destroys the driver inside drain (it defers its own end), so poller_ is still ours here.
    drain_(owner_);
    Poller::schedule(reactor_, poller_);
    return;
  }
  for (;;) {
    drain_(owner_);
    fid* objects[1] = {object_};
    // FI_SUCCESS: nothing left, the fd will signal the next event. -FI_EAGAIN: read again first.
    if (fi_trywait(fabric_, objects, 1) != -FI_EAGAIN) return;
  }
}

}  // namespace nvmf::fabric::ofi
