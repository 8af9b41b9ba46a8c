#include "initiator/admin_turns.hpp"

namespace nvmf::initiator {

AdminTurns::AdminTurns(fabric::Reactor& waiting, fabric::Reactor& admin) : waiting_(waiting), admin_(admin) {
  if (&waiting_ != &admin_) arm();
}

AdminTurns::~AdminTurns() {
  if (timer_) waiting_.cancel_timer(timer_);
}

void AdminTurns::arm() {
  timer_ = waiting_.add_timer(kInterval, [this] {
    timer_ = 0;
    // Without waiting: the waiting reactor's own loop bounds the pace. Keep-alive timers and completions run.
    admin_.run_once(std::chrono::milliseconds(0));
    ++turns_;
    arm();
  });
}

}  // namespace nvmf::initiator
