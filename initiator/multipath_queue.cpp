#include "initiator/multipath_queue.hpp"

#include <algorithm>

namespace nvmf::initiator {

MultipathQueue::MultipathQueue(std::vector<PathQueue> paths, std::vector<std::uint32_t> nsids, std::uint32_t depth,
                               PathPolicy policy)
    : nsids_(std::move(nsids)), slots_(depth), chooser_(policy) {
  paths_.reserve(paths.size());
  for (auto& p : paths) {
    Path path;
    static_cast<PathQueue&>(path) = std::move(p);
    paths_.push_back(std::move(path));
  }
  candidates_.resize(paths_.size());
  // Every container the data path touches gets its full size now: nothing grows per command.
  free_.reserve(slots_.size());
  waiting_.reserve(slots_.size());
  retry_batch_.reserve(slots_.size());
  for (auto& slot : slots_) {
    slot.owner = this;
    free_.push_back(&slot);
  }
}

MultipathQueue::~MultipathQueue() {
  // Path queues complete what they still hold with an aborted status: straight to the caller, no failover.
  destroying_ = true;
  for (auto& p : paths_) p.queue.reset();
  for (Slot* slot : waiting_) finish(*slot, nvme::Status::make(NVME_SCT_PATH, NVME_SC_CMD_ABORTED_BY_HOST));
  waiting_.clear();
}

bool MultipathQueue::alive() const {
  // A path reconnecting counts even past fast-io-fail: commands wait here for it, not in its queue.
  return std::any_of(paths_.begin(), paths_.end(),
                     [](const Path& p) { return p.queue && (p.queue->alive() || p.queue->reconnecting()); });
}

std::string MultipathQueue::error() const {
  std::string out;
  for (std::size_t i = 0; i < paths_.size(); ++i) {
    if (!paths_[i].queue || paths_[i].queue->alive()) continue;
    if (!out.empty()) out += "; ";
    out += "path " + std::to_string(i + 1) + ": " + paths_[i].queue->error();
  }
  return out.empty() ? "no usable path" : out;
}

bool MultipathQueue::any_path_reconnecting() const {
  // Reconnecting, or its connection just died and the queue has not noticed yet: either may come back.
  return std::any_of(paths_.begin(), paths_.end(), [](const Path& p) {
    return p.queue->reconnecting() || (!p.queue->connected() && p.queue->alive());
  });
}

SubmitResult MultipathQueue::read(std::uint32_t nsid, std::uint64_t slba, std::uint32_t nlb, void* buf,
                                  IoCallback cb, void* arg) {
  return start(Op::read, nsid, slba, nlb, buf, false, cb, arg);
}

SubmitResult MultipathQueue::write(std::uint32_t nsid, std::uint64_t slba, std::uint32_t nlb, const void* buf,
                                   IoCallback cb, void* arg, bool fua) {
  // The buffer is only read from: IoQueue::write takes it const again in dispatch().
  return start(Op::write, nsid, slba, nlb, const_cast<void*>(buf), fua, cb, arg);
}

SubmitResult MultipathQueue::flush(std::uint32_t nsid, IoCallback cb, void* arg) {
  return start(Op::flush, nsid, 0, 0, nullptr, false, cb, arg);
}

SubmitResult MultipathQueue::write_zeroes(std::uint32_t nsid, std::uint64_t slba, std::uint32_t nlb, IoCallback cb,
                                          void* arg, bool deallocate) {
  return start(Op::write_zeroes, nsid, slba, nlb, nullptr, deallocate, cb, arg);
}

SubmitResult MultipathQueue::submit_on(IoQueue& queue, const Namespace& ns, Slot& slot) {
  switch (slot.op) {
    case Op::read: return queue.read(ns, slot.slba, slot.nlb, slot.buf, &on_path_complete, &slot);
    case Op::write: return queue.write(ns, slot.slba, slot.nlb, slot.buf, &on_path_complete, &slot, slot.flag);
    case Op::flush: return queue.flush(ns, &on_path_complete, &slot);
    case Op::write_zeroes:
      return queue.write_zeroes(ns, slot.slba, slot.nlb, &on_path_complete, &slot, slot.flag);
  }
  return SubmitResult::invalid_argument;
}

SubmitResult MultipathQueue::start(Op op, std::uint32_t nsid, std::uint64_t slba, std::uint32_t nlb, void* buf,
                                   bool flag, IoCallback cb, void* arg) {
  if (!cb || destroying_) return SubmitResult::invalid_argument;
  const auto it = std::lower_bound(nsids_.begin(), nsids_.end(), nsid);
  if (it == nsids_.end() || *it != nsid) return SubmitResult::invalid_argument;
  if (free_.empty()) return SubmitResult::queue_full;
  Slot& slot = *free_.back();
  slot.cb = cb;
  slot.arg = arg;
  slot.buf = buf;
  slot.slba = slba;
  slot.nlb = nlb;
  slot.ns_index = static_cast<std::uint32_t>(it - nsids_.begin());
  slot.tried = 0;
  slot.op = op;
  slot.flag = flag;
  free_.pop_back();
  const SubmitResult r = dispatch(slot);
  if (r != SubmitResult::ok) free_.push_back(&slot);
  return r;
}

SubmitResult MultipathQueue::dispatch(Slot& slot) {
  const std::size_t n = paths_.size();
  for (;;) {
    for (std::size_t i = 0; i < n; ++i) {
      const Path& p = paths_[i];
      const bool usable = !(slot.tried >> i & 1) && p.queue->connected() && p.namespaces[slot.ns_index].block_size;
      candidates_[i].rank = usable ? ana_rank(p.ana[slot.ns_index].load(std::memory_order_relaxed)) : 0;
      candidates_[i].outstanding = p.outstanding;
    }
    const std::size_t i = chooser_.choose(candidates_);
    if (i == n) {
      if (!any_path_reconnecting()) return SubmitResult::disconnected;
      waiting_.push_back(&slot);  // at most every slot once: the reserved capacity holds
      return SubmitResult::ok;
    }
    Path& p = paths_[i];
    const Namespace& ns = p.namespaces[slot.ns_index];
    const SubmitResult r = submit_on(*p.queue, ns, slot);
    if (r == SubmitResult::ok) {
      slot.path = i;
      ++p.outstanding;
      return r;
    }
    if (r == SubmitResult::queue_full) {
      // The path keeps an entry for a re-authentication: try again from process_completions().
      waiting_.push_back(&slot);
      return SubmitResult::ok;
    }
    if (r != SubmitResult::disconnected) return r;  // the command itself is wrong: the same on every path
    slot.tried |= std::uint64_t(1) << i;
  }
}

void MultipathQueue::on_path_complete(void* arg, nvme::Status status) {
  Slot& slot = *static_cast<Slot*>(arg);
  MultipathQueue& self = *slot.owner;
  Path& p = self.paths_[slot.path];
  --p.outstanding;
  if (!self.destroying_ && retry_on_other_path(status)) {
    // The status says what the path is now; the set reads its ANA log again soon after (it re-reads the
    // log of a path with an unusable namespace every second).
    std::uint8_t learned = 0;
    if (status.sc() == NVME_SC_ANA_INACCESSIBLE) learned = NVME_ANA_STATE_INACCESSIBLE;
    if (status.sc() == NVME_SC_ANA_PERSISTENT_LOSS) learned = NVME_ANA_STATE_PERSISTENT_LOSS;
    if (status.sc() == NVME_SC_ANA_TRANSITION) learned = NVME_ANA_STATE_CHANGE;
    if (learned) p.ana[slot.ns_index].store(learned, std::memory_order_relaxed);
    slot.tried |= std::uint64_t(1) << slot.path;
    if (self.dispatch(slot) == SubmitResult::ok) {
      ++self.retries_;
      return;
    }
  }
  ++p.completed;
  self.finish(slot, status);
}

void MultipathQueue::finish(Slot& slot, nvme::Status status) {
  const IoCallback cb = slot.cb;
  void* arg = slot.arg;
  free_.push_back(&slot);  // first: the callback may submit the next command into this slot
  ++completed_;
  cb(arg, status);
}

unsigned MultipathQueue::process_completions(std::chrono::milliseconds max_wait) {
  const unsigned before = completed_;
  // Every path's queue lives on the same reactor: the first drives it (and runs every path's callbacks), the
  // others only run their own maintenance (timeouts, noticing a loss, reconnecting).
  paths_.front().queue->process_completions(waiting_.empty() ? max_wait : std::chrono::milliseconds(0));
  for (std::size_t i = 1; i < paths_.size(); ++i) paths_[i].queue->process_completions(std::chrono::milliseconds(0));
  if (!waiting_.empty()) {
    std::swap(waiting_, retry_batch_);
    for (Slot* slot : retry_batch_) {
      slot->tried = 0;  // a path that failed it may be back; one still unusable is not chosen
      const SubmitResult r = dispatch(*slot);
      if (r != SubmitResult::ok) finish(*slot, nvme::Status::make(NVME_SCT_PATH, NVME_SC_HOST_PATH_ERROR).with_dnr());
    }
    retry_batch_.clear();
    // Waiting for a path to come back: do not spin.
    if (!waiting_.empty() && max_wait.count() > 0)
      paths_.front().queue->process_completions(std::min(max_wait, std::chrono::milliseconds(10)));
  }
  return completed_ - before;
}

}  // namespace nvmf::initiator
