#include "initiator/keep_alive.hpp"

#include "fabric/log.hpp"
#include "initiator/commands.hpp"

namespace nvmf::initiator {

void KeepAlive::start(fabric::HostQueue& admin, std::chrono::milliseconds interval) {
  admin_ = &admin;
  interval_ = interval;
  failed_ = false;
  failure_.clear();
  stop_after_completion_ = false;
  request_.context = this;
  request_.on_complete = &KeepAlive::on_complete;
  arm();
}

void KeepAlive::arm() {
  state_ = State::waiting;
  timer_ = admin_->reactor().add_timer(interval_, [this] { on_timer(); });
}

void KeepAlive::on_timer() {
  if (state_ != State::waiting) return;
  request_.sqe = make_keep_alive();
  request_.iov = nullptr;
  request_.iovcnt = 0;
  request_.direction = fabric::DataDirection::none;
  if (!admin_->submit(request_)) {
    if (!admin_->alive()) {
      failed_ = true;
      failure_ = "admin queue lost: " + admin_->error().message;
      state_ = State::stopped;
      return;
    }
    arm();  // admin queue momentarily full: try again next interval
    return;
  }
  ++sent_;
  state_ = State::in_flight;
}

void KeepAlive::on_complete(fabric::HostRequest& req) {
  auto* self = static_cast<KeepAlive*>(req.context);
  if (!req.status().ok()) {
    self->failed_ = true;
    self->failure_ = "Keep Alive failed: " + req.status().to_string();
    NVMF_LOG(warn, "%s", self->failure_.c_str());
  }
  if (self->stop_after_completion_ || self->failed_) {
    self->state_ = State::stopped;
    return;
  }
  self->arm();
}

void KeepAlive::stop() {
  if (!admin_) return;
  if (state_ == State::waiting) admin_->reactor().cancel_timer(timer_);
  if (state_ == State::in_flight) {
    stop_after_completion_ = true;
    for (int turn = 0; turn < 10000 && state_ == State::in_flight; ++turn)
      admin_->reactor().run_once(std::chrono::milliseconds(1));
    if (state_ == State::in_flight) {
      admin_->close();  // the request must not outlive us
      for (int turn = 0; turn < 100 && state_ == State::in_flight; ++turn)
        admin_->reactor().run_once(std::chrono::milliseconds(1));
    }
  }
  state_ = State::stopped;
}

}  // namespace nvmf::initiator
