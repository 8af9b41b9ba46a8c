// Drives a libfabric CQ or EQ from the reactor without a thread of its own. Sleeping: the object's wait object
// (FI_WAIT_FD, fetched with FI_GETWAIT) is polled by io_uring (rdma::FdWatch); when it fires, the owner drains
// the object, then fi_trywait says whether the fd may be waited on again or more must be read first (providers
// with manual progress, such as tcp, make progress inside the reads: fi_trywait is where they say so).
// Busy-poll reactors (--busy-poll) poll the object on every reactor turn (Reactor::add_poller) instead.
#pragma once
#include <rdma/fabric.h>

#include <memory>
#include <string>

#include "fabric/ofi/cq_counters.hpp"

namespace nvmf::fabric {
class Reactor;
namespace rdma {
class FdWatch;
}
}  // namespace nvmf::fabric

namespace nvmf::fabric::ofi {

class WaitDriver {
 public:
  /// `drain(owner)` reads what the object holds now (until a read returns less than it asked for). Returns
  /// nullptr and *error when the object has no fd wait object. `counters` (optional) count wake-ups and
  /// fi_trywait retries.
  using Drain = void (*)(void* owner);
  static std::unique_ptr<WaitDriver> start(Reactor& reactor, fid_fabric* fabric, fid* object, void* owner,
                                           Drain drain, std::string* error, CqCounters* counters = nullptr);
  ~WaitDriver();  ///< No more drain calls after this. Never called from inside drain.
  WaitDriver(const WaitDriver&) = delete;
  WaitDriver& operator=(const WaitDriver&) = delete;

 private:
  WaitDriver(Reactor& reactor, fid_fabric* fabric, fid* object, void* owner, Drain drain, CqCounters* counters);
  static void on_ready(void* self);
  void run();

  Reactor& reactor_;
  fid_fabric* fabric_;
  fid* object_;
  void* owner_;
  Drain drain_;
  CqCounters* counters_;
  rdma::FdWatch* watch_ = nullptr;
  bool busy_poll_ = false;  ///< Polled every reactor turn (Reactor::add_poller) instead of waiting on the fd
};

}  // namespace nvmf::fabric::ofi
