// Controller maintenance: asynchronous events and the reconnect state machine (live -> reconnecting ->
// live | failed). Runs from poll()/maintain() on the admin thread, outside reactor callbacks, so it may issue
// synchronous admin commands. Policy from the Linux host (drivers/nvme/host/fabrics.c): reconnect every
// reconnect_delay; at most DIV_ROUND_UP(ctrl_loss_tmo, reconnect_delay) attempts, then give up.
#include <cstring>
#include <memory>

#include "fabric/log.hpp"
#include "initiator/controller.hpp"

namespace nvmf::initiator {

namespace {
using Clock = std::chrono::steady_clock;
}

const char* to_string(ControllerEvent::Type type) {
  switch (type) {
    case ControllerEvent::Type::namespaces_changed: return "namespaces changed";
    case ControllerEvent::Type::discovery_changed: return "discovery log changed";
    case ControllerEvent::Type::other_aen: return "asynchronous event";
    case ControllerEvent::Type::disconnected: return "disconnected";
    case ControllerEvent::Type::reconnected: return "reconnected";
    case ControllerEvent::Type::failed: return "failed";
  }
  return "?";
}

void Controller::emit(ControllerEvent::Type type, std::uint32_t dw0) {
  if (on_event_) on_event_(ControllerEvent{type, dw0});
}

void Controller::maintain() {
  if (shut_down_) return;
  switch (state_) {
    case State::live: {
      std::string why;
      if (!admin_ || !admin_->alive())
        why = "admin queue: " + (admin_ ? admin_->error().message : std::string("closed"));
      else if (keep_alive_.failed())
        why = keep_alive_.failure();
      else if (association_->take_loss_report())
        why = "an I/O queue lost its connection";
      if (!why.empty()) {
        lose_association(why);
        return;
      }
      std::uint32_t dw0;
      while (state_ == State::live && async_events_.take(&dw0)) handle_async_event(dw0);
      return;
    }
    case State::reconnecting:
      try_reconnect();
      return;
    case State::failed:
      return;
  }
}

void Controller::lose_association(const std::string& why) {
  NVMF_LOG(warn, "controller %u (%s): association lost: %s", cntlid_, options_.subnqn.c_str(), why.c_str());
  tear_down_admin();
  state_ = State::reconnecting;
  association_->set_reconnecting();
  lost_at_ = Clock::now();
  next_attempt_ = lost_at_ + options_.reconnect_delay;
  reconnect_attempts_ = 0;
  emit(ControllerEvent::Type::disconnected);
  if (options_.ctrl_loss_timeout.count() == 0) give_up("ctrl-loss-tmo is 0");
}

void Controller::give_up(const std::string& why) {
  NVMF_LOG(error, "controller %s: giving up (%s)", options_.subnqn.c_str(), why.c_str());
  state_ = State::failed;
  association_->set_failed();
  emit(ControllerEvent::Type::failed);
}

void Controller::try_reconnect() {
  const auto now = Clock::now();
  if (options_.fast_io_fail_timeout.count() >= 0 && !association_->fast_fail() &&
      now >= lost_at_ + options_.fast_io_fail_timeout) {
    NVMF_LOG(warn, "controller %s: fast-io-fail-tmo expired, failing queued I/O", options_.subnqn.c_str());
    association_->set_fast_fail();
  }
  if (now < next_attempt_) return;

  ++reconnect_attempts_;
  Error e = establish();
  if (!e) {
    NVMF_LOG(info, "controller %s: reconnected as controller %u after %u attempt(s)", options_.subnqn.c_str(),
             cntlid_, reconnect_attempts_);
    state_ = State::live;
    association_->set_live(cntlid_);
    emit(ControllerEvent::Type::reconnected);
    return;
  }
  tear_down_admin();
  NVMF_LOG(warn, "controller %s: reconnect attempt %u failed: %s", options_.subnqn.c_str(), reconnect_attempts_,
           e.to_string().c_str());
  next_attempt_ = Clock::now() + options_.reconnect_delay;
  // Linux: max_reconnects = DIV_ROUND_UP(ctrl_loss_tmo, reconnect_delay); negative ctrl_loss_tmo retries forever.
  if (options_.ctrl_loss_timeout.count() >= 0) {
    const auto delay = std::max<long long>(options_.reconnect_delay.count(), 1);
    const auto max_attempts = static_cast<unsigned>((options_.ctrl_loss_timeout.count() + delay - 1) / delay);
    if (reconnect_attempts_ >= max_attempts)
      give_up("ctrl-loss-tmo of " + std::to_string(options_.ctrl_loss_timeout.count()) + " ms expired after " +
              std::to_string(reconnect_attempts_) + " attempt(s); last: " + e.to_string());
  }
}

void Controller::handle_async_event(std::uint32_t dw0) {
  // CQE DW0 (NVMe base 5.2.1): event type 2:0, event information 15:8, log page 23:16. Reading the log page
  // (RAE clear) is what re-arms the event on the controller.
  const unsigned type = dw0 & 0x7, info = (dw0 >> 8) & 0xff, lid = (dw0 >> 16) & 0xff;
  NVMF_LOG(info, "controller %u: asynchronous event type %u info %#x log page %#x", cntlid_, type, info, lid);
  if (type == NVME_AER_NOTICE && info == NVME_AER_NOTICE_NS_CHANGED) {
    auto list = std::make_unique<nvme_ns_list>();
    nvme::Status s = get_log_page(NVME_LOG_LID_CHANGED_NS, NVME_NSID_ALL, list.get(), sizeof *list);
    if (!s.ok()) NVMF_LOG(warn, "Get Log Page 04h (Changed Namespace List): %s", s.to_string().c_str());
    if (Error e = refresh_namespaces()) NVMF_LOG(warn, "namespace refresh: %s", e.to_string().c_str());
    emit(ControllerEvent::Type::namespaces_changed, dw0);
    return;
  }
  if (type == NVME_AER_NOTICE && info == NVME_AER_NOTICE_DISC_CHANGED) {
    std::uint8_t header[1024];  // the header alone re-arms the notice; the application reads the entries
    nvme::Status s = get_log_page(NVME_LOG_LID_DISCOVER, 0, header, sizeof header, 0, false);
    if (!s.ok()) NVMF_LOG(warn, "Get Log Page 70h: %s", s.to_string().c_str());
    emit(ControllerEvent::Type::discovery_changed, dw0);
    return;
  }
  emit(ControllerEvent::Type::other_aen, dw0);
}

}  // namespace nvmf::initiator
