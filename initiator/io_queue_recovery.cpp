// IoQueue's side of failure handling: the I/O timeout, noticing a lost connection, reconnecting to the
// controller's new association and resending what the loss caught (see io_queue.hpp and association.hpp).
// Runs from process_completions() on the queue's own thread, never inside a completion callback.
#include <algorithm>

#include "fabric/log.hpp"
#include "initiator/io_queue.hpp"

namespace nvmf::initiator {

namespace {
// How often outstanding commands are checked against the I/O timeout: often enough that a timeout fires
// within a quarter of its length, at most once a second (the Linux host's timeout is a per-request timer).
std::chrono::milliseconds scan_interval(std::chrono::milliseconds io_timeout) {
  return std::clamp(io_timeout / 4, std::chrono::milliseconds(1), std::chrono::milliseconds(1000));
}
}  // namespace

void IoQueue::attach_association(std::shared_ptr<AssociationState> association, std::uint32_t generation) {
  association_ = std::move(association);
  generation_ = generation;
}

void IoQueue::maintain() {
  const auto now = Clock::now();
  if (link_ == Link::connected) {
    if (!queue_->alive()) {
      if (association_) on_link_lost();
    } else if (association_ && (association_->link() != AssociationState::Link::live ||
                                association_->generation() != generation_)) {
      // The controller tore its association down (another queue failed, keep-alive, admin loss): as in the
      // Linux host's error recovery every I/O queue of it goes too, and its commands wait for the next one.
      NVMF_LOG(info, "I/O queue %u: the controller is resetting the association; closing this queue", qid_);
      queue_->close();
      link_ = Link::waiting;
      next_attempt_ = now;
    } else if (io_timeout_.count() > 0 && now >= next_timeout_scan_) {
      scan_timeouts(now);
    }
  }
  if (link_ == Link::waiting) recover(now);
}

void IoQueue::scan_timeouts(Clock::time_point now) {
  next_timeout_scan_ = now + scan_interval(io_timeout_);
  for (const Slot& slot : slots_) {
    if (!slot.in_flight || now - slot.sent < io_timeout_) continue;
    // The command's fate is unknown: the connection cannot be trusted with the next one (the Linux host
    // starts error recovery, a reset of the association). Closing completes every command on it.
    NVMF_LOG(warn, "I/O queue %u: command %u timed out after %lld ms; closing the connection", qid_,
             static_cast<unsigned>(slot.request.sqe.cid), static_cast<long long>(io_timeout_.count()));
    queue_->close();
    if (association_) on_link_lost();
    return;
  }
}

void IoQueue::on_link_lost() {
  if (link_ != Link::connected) return;
  NVMF_LOG(warn, "I/O queue %u: connection lost (%s); waiting for the controller to reconnect", qid_,
           queue_->error().message.c_str());
  link_ = Link::waiting;
  next_attempt_ = Clock::now();
  association_->report_loss(generation_);
}

void IoQueue::recover(Clock::time_point now) {
  if (admin_hook_) admin_hook_();
  const AssociationState::Link link = association_->link();
  if (link == AssociationState::Link::failed) {
    link_ = Link::failed;
    // DNR: the controller is gone for good, retrying elsewhere is the application's decision.
    fail_parked(kHostPathError.with_dnr());
    return;
  }
  if (association_->fast_fail()) fail_parked(kHostPathError);
  const std::uint32_t generation = association_->generation();
  if (link != AssociationState::Link::live || generation == generation_ || now < next_attempt_) return;
  if (queue_->outstanding() > 0) return;  // the old connection is still handing back its commands

  Error error;
  auto fresh = association_->connect_io(queue_->reactor(), qid_, queue_->depth(), &error);
  if (!fresh) {
    NVMF_LOG(warn, "I/O queue %u: reconnect failed: %s", qid_, error.to_string().c_str());
    next_attempt_ = now + association_->reconnect_delay();
    association_->report_loss(generation);  // the new association is not usable either: reset it
    return;
  }
  queue_ = std::move(fresh);
  generation_ = generation;
  link_ = Link::connected;
  NVMF_LOG(info, "I/O queue %u: reconnected (controller %u), resending %zu command(s)", qid_,
           static_cast<unsigned>(association_->cntlid()), parked_.size());
  resend_parked();
}

void IoQueue::resend_parked() {
  std::size_t sent = 0;
  for (; sent < parked_.size(); ++sent) {
    Slot* slot = parked_[sent];
    slot->request.cqe = {};
    slot->sent = Clock::now();
    if (!queue_->submit(slot->request)) break;  // died again: the rest stay parked for the next association
    slot->in_flight = true;
  }
  parked_.erase(parked_.begin(), parked_.begin() + static_cast<std::ptrdiff_t>(sent));
}

void IoQueue::fail_parked(nvme::Status status) {
  while (!parked_.empty()) {
    Slot* slot = parked_.back();
    parked_.pop_back();
    complete_slot(slot, status);
  }
}

}  // namespace nvmf::initiator
