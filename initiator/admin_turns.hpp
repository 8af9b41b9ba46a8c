// Keeps the admin reactor turning while the admin thread waits on another reactor. An I/O queue connects on the
// reactor it will live on (perf workers, C API qpairs); the TCP/RDMA connect and the Fabrics Connect then drive
// only that reactor, and the admin queue's Keep Alive timer, on the admin reactor, would stall for as long as
// the connect takes: a controller slower than KATO to answer would end the association (NVMe base spec, Keep
// Alive Timer). While an AdminTurns lives, a short timer on the waiting reactor turns the admin reactor too.
#pragma once
#include <chrono>

#include "fabric/reactor.hpp"

namespace nvmf::initiator {

class AdminTurns {
 public:
  /// How often the admin reactor gets a turn: far below any KATO/2 the host uses, yet no busy loop.
  static constexpr std::chrono::milliseconds kInterval{5};

  /// Turns `admin` from `waiting`'s timers. A no-op when they are the same reactor (its own loop turns it).
  AdminTurns(fabric::Reactor& waiting, fabric::Reactor& admin);
  ~AdminTurns();
  AdminTurns(const AdminTurns&) = delete;
  AdminTurns& operator=(const AdminTurns&) = delete;

  /// Turns given to the admin reactor so far.
  unsigned turns() const { return turns_; }

 private:
  void arm();

  fabric::Reactor& waiting_;
  fabric::Reactor& admin_;
  fabric::TimerWheel::Id timer_ = 0;
  unsigned turns_ = 0;
};

}  // namespace nvmf::initiator
