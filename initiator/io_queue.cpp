#include "initiator/io_queue.hpp"

#include <algorithm>

#include "fabric/reactor.hpp"
#include "initiator/commands.hpp"
#include "initiator/error.hpp"

namespace nvmf::initiator {

const char* to_string(SubmitResult r) {
  switch (r) {
    case SubmitResult::ok: return "ok";
    case SubmitResult::queue_full: return "queue full";
    case SubmitResult::invalid_argument: return "invalid argument";
    case SubmitResult::disconnected: return "disconnected";
  }
  return "?";
}

IoQueue::IoQueue(std::unique_ptr<fabric::HostQueue> queue, std::uint16_t qid, std::chrono::milliseconds io_timeout,
                 std::function<void()> on_destroy)
    : queue_(std::move(queue)), qid_(qid), io_timeout_(io_timeout), on_destroy_(std::move(on_destroy)),
      slots_(queue_->depth()) {
  free_.reserve(slots_.size());
  parked_.reserve(slots_.size());
  for (auto& slot : slots_) {
    slot.owner = this;
    slot.request.context = &slot;
    slot.request.on_complete = &IoQueue::on_request_complete;
    free_.push_back(&slot);
  }
}

IoQueue::~IoQueue() {
  destroying_ = true;
  queue_->close();
  // close() completes what was outstanding; let the reactor deliver those completions before the slots go.
  for (int turn = 0; turn < 1000 && queue_->outstanding() > 0; ++turn)
    queue_->reactor().run_once(std::chrono::milliseconds(1));
  fail_parked(kAbortedByHost);
  queue_.reset();
  if (on_destroy_) on_destroy_();
}

bool IoQueue::alive() const {
  if (link_ == Link::waiting) return !association_->fast_fail() && association_->link() != AssociationState::Link::failed;
  return link_ == Link::connected && (queue_->alive() || association_);
}

bool IoQueue::park_on_completion(nvme::Status status) const {
  // A path status from a connection that died under the command: the command's fate is unknown, the Linux
  // host requeues it for the next association (nvme_failover_req / the tcp host's error recovery).
  return association_ && !destroying_ && link_ != Link::failed && !queue_->alive() && status.sct() == NVME_SCT_PATH &&
         !association_->fast_fail() && association_->link() != AssociationState::Link::failed;
}

namespace {
IoStats::Op op_of(std::uint8_t opcode) {
  switch (opcode) {
    case nvme_cmd_read:
    case nvme_cmd_compare: return IoStats::Op::read;
    case nvme_cmd_write: return IoStats::Op::write;
    default: return IoStats::Op::other;
  }
}
}  // namespace

void IoQueue::complete_slot(Slot* slot, nvme::Status status) {
  if (status.ok()) {
    const auto latency = std::chrono::duration_cast<std::chrono::nanoseconds>(reactor().now() - slot->sent).count();
    stats_->count_success(op_of(slot->request.sqe.opcode), slot->bytes, static_cast<std::uint64_t>(latency));
  } else {
    stats_->count_error();
  }
  IoCallback cb = slot->cb;
  void* arg = slot->arg;
  // Recycle first: the callback may submit the next command into this very slot.
  free_.push_back(slot);
  ++completed_;
  cb(arg, status);
}

void IoQueue::on_request_complete(fabric::HostRequest& req) {
  auto* slot = static_cast<Slot*>(req.context);
  IoQueue* self = slot->owner;
  slot->in_flight = false;
  nvme::Status status = req.status();
  if (self->park_on_completion(status)) {
    self->parked_.push_back(slot);
    return;
  }
  self->complete_slot(slot, status);
}

SubmitResult IoQueue::submit(const nvme::Sqe& sqe, const iovec* iov, std::uint32_t iovcnt, fabric::DataDirection dir,
                             IoCallback cb, void* arg) {
  if (!cb) return SubmitResult::invalid_argument;
  if (link_ == Link::connected && !queue_->alive()) {
    if (!association_) return SubmitResult::disconnected;
    on_link_lost();
  }
  if (link_ == Link::failed || (link_ == Link::waiting && !alive())) return SubmitResult::disconnected;
  if (free_.empty() || (reserve_entry_ && free_.size() <= 1)) return SubmitResult::queue_full;
  Slot* slot = free_.back();
  fabric::HostRequest& req = slot->request;
  req.sqe = sqe;
  req.iov = iovcnt ? iov : nullptr;
  req.iovcnt = iovcnt;
  req.direction = iovcnt ? dir : fabric::DataDirection::none;
  req.cqe = {};
  slot->cb = cb;
  slot->arg = arg;
  slot->bytes = 0;
  if (sqe.opcode == nvme_cmd_read || sqe.opcode == nvme_cmd_write || sqe.opcode == nvme_cmd_compare)
    for (std::uint32_t i = 0; i < iovcnt; ++i) slot->bytes += iov[i].iov_len;
  if (link_ == Link::waiting) {  // held until the queue is connected again
    free_.pop_back();
    parked_.push_back(slot);
    stats_->count_submitted();
    return SubmitResult::ok;
  }
  slot->sent = reactor().now();  // one clock read per reactor turn (Reactor::now)
  if (!queue_->submit(req)) {
    if (queue_->alive()) return SubmitResult::queue_full;
    if (!association_) return SubmitResult::disconnected;
    on_link_lost();  // the connection died under this submission: hold the command for the reconnect
    if (!alive()) return SubmitResult::disconnected;
    free_.pop_back();
    parked_.push_back(slot);
    stats_->count_submitted();
    return SubmitResult::ok;
  }
  slot->in_flight = true;
  free_.pop_back();
  stats_->count_submitted();
  return SubmitResult::ok;
}

SubmitResult IoQueue::submit_single(const nvme::Sqe& sqe, const void* buf, std::uint32_t length,
                                    fabric::DataDirection dir, IoCallback cb, void* arg) {
  if (!buf || free_.empty()) return !buf ? SubmitResult::invalid_argument : SubmitResult::queue_full;
  Slot* slot = free_.back();
  slot->single = iovec{const_cast<void*>(buf), length};
  return submit(sqe, &slot->single, 1, dir, cb, arg);
}

SubmitResult IoQueue::check_range(const Namespace& ns, std::uint64_t slba, std::uint32_t nlb) const {
  if (nlb == 0 || nlb > ns.max_transfer_blocks) return SubmitResult::invalid_argument;
  if (slba >= ns.capacity_blocks || nlb > ns.capacity_blocks - slba) return SubmitResult::invalid_argument;
  return SubmitResult::ok;
}

namespace {
std::uint64_t iov_bytes(const iovec* iov, std::uint32_t iovcnt) {
  std::uint64_t total = 0;
  for (std::uint32_t i = 0; i < iovcnt; ++i) total += iov[i].iov_len;
  return total;
}
}  // namespace

SubmitResult IoQueue::read(const Namespace& ns, std::uint64_t slba, std::uint32_t nlb, void* buf, IoCallback cb,
                           void* arg) {
  if (auto r = check_range(ns, slba, nlb); r != SubmitResult::ok) return r;
  return submit_single(make_read(ns.nsid, slba, nlb), buf, nlb * ns.block_size,
                       fabric::DataDirection::controller_to_host, cb, arg);
}

SubmitResult IoQueue::readv(const Namespace& ns, std::uint64_t slba, std::uint32_t nlb, const iovec* iov,
                            std::uint32_t iovcnt, IoCallback cb, void* arg) {
  if (auto r = check_range(ns, slba, nlb); r != SubmitResult::ok) return r;
  if (!iov || iovcnt == 0 || iov_bytes(iov, iovcnt) != std::uint64_t(nlb) * ns.block_size)
    return SubmitResult::invalid_argument;
  return submit(make_read(ns.nsid, slba, nlb), iov, iovcnt, fabric::DataDirection::controller_to_host, cb, arg);
}

SubmitResult IoQueue::write(const Namespace& ns, std::uint64_t slba, std::uint32_t nlb, const void* buf,
                            IoCallback cb, void* arg, bool fua) {
  if (auto r = check_range(ns, slba, nlb); r != SubmitResult::ok) return r;
  return submit_single(make_write(ns.nsid, slba, nlb, fua), buf, nlb * ns.block_size,
                       fabric::DataDirection::host_to_controller, cb, arg);
}

SubmitResult IoQueue::writev(const Namespace& ns, std::uint64_t slba, std::uint32_t nlb, const iovec* iov,
                             std::uint32_t iovcnt, IoCallback cb, void* arg, bool fua) {
  if (auto r = check_range(ns, slba, nlb); r != SubmitResult::ok) return r;
  if (!iov || iovcnt == 0 || iov_bytes(iov, iovcnt) != std::uint64_t(nlb) * ns.block_size)
    return SubmitResult::invalid_argument;
  return submit(make_write(ns.nsid, slba, nlb, fua), iov, iovcnt, fabric::DataDirection::host_to_controller, cb,
                arg);
}

SubmitResult IoQueue::compare(const Namespace& ns, std::uint64_t slba, std::uint32_t nlb, const void* buf,
                              IoCallback cb, void* arg) {
  if (auto r = check_range(ns, slba, nlb); r != SubmitResult::ok) return r;
  return submit_single(make_compare(ns.nsid, slba, nlb), buf, nlb * ns.block_size,
                       fabric::DataDirection::host_to_controller, cb, arg);
}

SubmitResult IoQueue::flush(const Namespace& ns, IoCallback cb, void* arg) {
  return submit(make_flush(ns.nsid), nullptr, 0, fabric::DataDirection::none, cb, arg);
}

SubmitResult IoQueue::write_zeroes(const Namespace& ns, std::uint64_t slba, std::uint32_t nlb, IoCallback cb,
                                   void* arg, bool deallocate) {
  // Write Zeroes moves no data, so only the 16-bit NLB field and the capacity bound it, not MDTS.
  if (nlb == 0 || nlb > kMaxBlocksPerCommand) return SubmitResult::invalid_argument;
  if (slba >= ns.capacity_blocks || nlb > ns.capacity_blocks - slba) return SubmitResult::invalid_argument;
  return submit(make_write_zeroes(ns.nsid, slba, nlb, deallocate), nullptr, 0, fabric::DataDirection::none, cb, arg);
}

SubmitResult IoQueue::deallocate(const Namespace& ns, const nvme_dsm_range* ranges, std::uint32_t count,
                                 IoCallback cb, void* arg) {
  if (!ranges || count == 0 || count > 256) return SubmitResult::invalid_argument;
  for (std::uint32_t i = 0; i < count; ++i) {
    if (ranges[i].slba >= ns.capacity_blocks || ranges[i].nlb > ns.capacity_blocks - ranges[i].slba)
      return SubmitResult::invalid_argument;
  }
  return submit_single(make_deallocate(ns.nsid, count), ranges,
                       static_cast<std::uint32_t>(count * sizeof(nvme_dsm_range)),
                       fabric::DataDirection::host_to_controller, cb, arg);
}

bool IoQueue::register_buffer(void* address, std::size_t length, std::string* error) {
  return queue_->register_buffer(address, length, error);
}

unsigned IoQueue::process_completions(std::chrono::milliseconds max_wait) {
  unsigned before = completed_;
  // While reconnecting nothing arrives on the dead connection: wait in short slices so recovery runs often.
  if (link_ != Link::connected) max_wait = std::min(max_wait, std::chrono::milliseconds(10));
  queue_->reactor().run_once(max_wait);
  maintain();
  return completed_ - before;
}

}  // namespace nvmf::initiator
