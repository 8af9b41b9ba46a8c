#include "initiator/async_events.hpp"

#include "fabric/log.hpp"
#include "fabric/reactor.hpp"
#include "initiator/commands.hpp"

namespace nvmf::initiator {

void AsyncEvents::start(fabric::HostQueue& admin) {
  admin_ = &admin;
  head_ = count_ = 0;
  request_.context = this;
  request_.on_complete = &AsyncEvents::on_complete;
  post();
}

void AsyncEvents::post() {
  request_.sqe = make_async_event_request();
  request_.iov = nullptr;
  request_.iovcnt = 0;
  request_.direction = fabric::DataDirection::none;
  request_.cqe = {};
  // Fails only when the admin queue is dead or full; the Controller notices the former, and a full admin
  // queue at bring-up is not possible (nothing else is outstanding then).
  state_ = admin_->submit(request_) ? State::posted : State::stopped;
}

void AsyncEvents::on_complete(fabric::HostRequest& req) {
  auto* self = static_cast<AsyncEvents*>(req.context);
  if (self->state_ == State::quiesced) self->state_ = State::stopped;
  if (self->state_ != State::posted) return;
  const nvme::Status status = req.status();
  if (!status.ok()) {
    // Aborted at close, or Asynchronous Event Request Limit Exceeded: nothing to repost.
    if (status.sct() != NVME_SCT_PATH) NVMF_LOG(warn, "Asynchronous Event Request failed: %s", status.to_string().c_str());
    self->state_ = State::stopped;
    return;
  }
  ++self->received_;
  if (self->count_ == self->events_.size()) {
    NVMF_LOG(warn, "asynchronous event %#x dropped: %u unhandled", self->events_[self->head_], self->count_);
    self->head_ = (self->head_ + 1) % self->events_.size();
    --self->count_;
  }
  self->events_[(self->head_ + self->count_) % self->events_.size()] = req.cqe.dw0;
  ++self->count_;
  self->post();
}

bool AsyncEvents::take(std::uint32_t* dw0) {
  if (count_ == 0) return false;
  *dw0 = events_[head_];
  head_ = (head_ + 1) % events_.size();
  --count_;
  return true;
}

void AsyncEvents::quiesce() {
  if (state_ == State::posted) state_ = State::quiesced;
}

void AsyncEvents::stop() {
  if (!admin_ || (state_ != State::posted && state_ != State::quiesced)) {
    state_ = State::stopped;
    return;
  }
  state_ = State::stopped;  // a completion from here on is not reposted
  admin_->close();
  for (int turn = 0; turn < 100 && admin_->outstanding() > 0; ++turn)
    admin_->reactor().run_once(std::chrono::milliseconds(1));
}

}  // namespace nvmf::initiator
