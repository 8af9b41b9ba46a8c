#include "initiator/workload/perf_worker.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "initiator/workload/verify_pattern.hpp"

namespace nvmf::initiator {

PerfWorker::PerfWorker(unsigned index, const PerfConfig& config, const Namespace& ns, std::uint64_t region_start,
                       std::uint64_t region_blocks, std::uint64_t seed)
    : index_(index), config_(config), ns_(ns), region_start_(region_start),
      blocks_per_io_(config.io_size / ns.block_size), ios_in_region_(region_blocks / (config.io_size / ns.block_size)),
      seed_(seed), rng_(seed ^ (0x9E3779B97F4A7C15ull * (index + 1))) {
  if (rng_ == 0) rng_ = 1;
  const std::size_t buffer_bytes = (std::size_t(config.io_size) + 4095) & ~std::size_t(4095);
  slots_.resize(config.queue_depth);
  paced_.reserve(config.queue_depth);
  if (config.rate_iops > 0)
    interval_ = std::chrono::nanoseconds(1'000'000'000ull * std::max(config.queues, 1u) / config.rate_iops);
  for (auto& slot : slots_) {
    slot.worker = this;
    slot.buffer = std::aligned_alloc(4096, buffer_bytes);
    if (!slot.buffer) throw std::bad_alloc();
    // Plain writes send whatever is in the buffer; make it non-trivial so nothing can compress it away.
    auto* words = static_cast<std::uint64_t*>(slot.buffer);
    for (std::size_t i = 0; i < buffer_bytes / 8; ++i) words[i] = random();
  }
}

PerfWorker::~PerfWorker() {
  detach();
  for (auto& slot : slots_) std::free(slot.buffer);
}

void PerfWorker::attach(std::unique_ptr<fabric::Reactor> reactor, std::unique_ptr<IoQueue> queue) {
  reactor_ = std::move(reactor);
  queue_ = std::move(queue);
}

void PerfWorker::attach(std::unique_ptr<fabric::Reactor> reactor, std::unique_ptr<MultipathQueue> queue) {
  reactor_ = std::move(reactor);
  multipath_ = std::move(queue);
}

void PerfWorker::detach() {
  queue_.reset();  // before the reactor it runs on
  multipath_.reset();
  reactor_.reset();
}

std::uint64_t PerfWorker::random() {  // xorshift64
  rng_ ^= rng_ << 13;
  rng_ ^= rng_ >> 7;
  rng_ ^= rng_ << 17;
  return rng_;
}

void PerfWorker::fail(std::string message) {
  if (first_error.empty()) first_error = "worker " + std::to_string(index_) + ": " + std::move(message);
  stopping_ = true;
}

void PerfWorker::run(Clock::time_point start, Clock::time_point end) {
  if (config_.verify) {
    // Write the pattern over the slice first, for at most half the run, then read it back until the end.
    phases.push_back(PerfPhaseResult("write"));
    phases.push_back(PerfPhaseResult("read-verify"));
    phase_ = &phases[0];
    run_phase(PhaseKind::fill, start + (end - start) / 2);
    if (first_error.empty()) {
      if (filled_ios_ == 0) {
        fail("no block was written before the time ran out: nothing to verify");
      } else {
        phase_index.store(1, std::memory_order_relaxed);
        phase_ = &phases[1];
        run_phase(PhaseKind::read_verify, end);
      }
    }
  } else {
    phases.push_back(PerfPhaseResult(to_string(config_.pattern)));
    phase_ = &phases[0];
    run_phase(PhaseKind::workload, end);
  }
  finished.store(true, std::memory_order_release);
}

void PerfWorker::run_phase(PhaseKind kind, Clock::time_point deadline) {
  kind_ = kind;
  deadline_ = deadline;
  stopping_ = false;
  cursor_ = 0;
  const auto phase_start = Clock::now();
  next_send_ = phase_start;
  paced_.clear();
  for (auto& slot : slots_) {
    if (stopping_) break;
    if (interval_.count() > 0) {
      paced_.push_back(&slot);
    } else {
      submit_next(slot);
    }
  }
  while (outstanding_ > 0 || (!paced_.empty() && !stopping_)) {
    process_completions(submit_due(std::chrono::milliseconds(10)));
    if (Clock::now() >= deadline_) stopping_ = true;
    if (!queue_alive() && outstanding_ > 0 && first_error.empty()) fail("I/O queue lost: " + queue_error());
  }
  phase_->seconds = std::chrono::duration<double>(Clock::now() - phase_start).count();
  if (kind == PhaseKind::fill) filled_ios_ = cursor_;
}

std::chrono::milliseconds PerfWorker::submit_due(std::chrono::milliseconds idle) {
  if (paced_.empty() || stopping_) return idle;
  auto now = Clock::now();
  // A worker that fell behind (a stall) resumes the rate from now instead of catching up in a burst.
  if (now - next_send_ > interval_ * 4) next_send_ = now;
  while (!paced_.empty() && now >= next_send_ && !stopping_) {
    Slot* slot = paced_.back();
    paced_.pop_back();
    next_send_ += interval_;
    submit_next(*slot);
  }
  if (paced_.empty()) return idle;
  // Whole milliseconds, rounded up: the reactor sleeps (or polls) until then instead of spinning here.
  const auto until = std::chrono::ceil<std::chrono::milliseconds>(next_send_ - now);
  return std::clamp(until, std::chrono::milliseconds(1), idle);
}

void PerfWorker::submit_next(Slot& slot) {
  if (stopping_) return;
  std::uint64_t io_index;
  bool is_read;
  switch (kind_) {
    case PhaseKind::fill:
      if (cursor_ == ios_in_region_) {
        stopping_ = true;  // the slice is covered
        return;
      }
      io_index = cursor_++;
      is_read = false;
      break;
    case PhaseKind::read_verify:
      io_index = is_random(config_.pattern) ? random() % filled_ios_ : cursor_++ % filled_ios_;
      is_read = true;
      break;
    case PhaseKind::workload:
    default:
      io_index = is_random(config_.pattern) ? random() % ios_in_region_ : cursor_++ % ios_in_region_;
      switch (config_.pattern) {
        case PerfPattern::read:
        case PerfPattern::randread: is_read = true; break;
        case PerfPattern::write:
        case PerfPattern::randwrite: is_read = false; break;
        default: is_read = random() % 100 < config_.rwmixread; break;
      }
      break;
  }
  slot.slba = region_start_ + io_index * blocks_per_io_;
  slot.is_read = is_read;
  if (kind_ == PhaseKind::fill) fill_verify_blocks(slot.buffer, ns_.block_size, slot.slba, blocks_per_io_, seed_);
  slot.start = reactor_->now();
  SubmitResult r = submit(slot);
  if (r != SubmitResult::ok) {
    ++io_errors;
    fail(std::string("submit ") + (is_read ? "read" : "write") + " at LBA " + std::to_string(slot.slba) + ": " +
         to_string(r));
    return;
  }
  ++outstanding_;
}

SubmitResult PerfWorker::submit(Slot& slot) {
  if (multipath_)
    return slot.is_read ? multipath_->read(ns_.nsid, slot.slba, blocks_per_io_, slot.buffer, &on_complete, &slot)
                        : multipath_->write(ns_.nsid, slot.slba, blocks_per_io_, slot.buffer, &on_complete, &slot);
  return slot.is_read ? queue_->read(ns_, slot.slba, blocks_per_io_, slot.buffer, &on_complete, &slot)
                      : queue_->write(ns_, slot.slba, blocks_per_io_, slot.buffer, &on_complete, &slot);
}

void PerfWorker::process_completions(std::chrono::milliseconds max_wait) {
  if (multipath_)
    multipath_->process_completions(max_wait);
  else
    queue_->process_completions(max_wait);
}

bool PerfWorker::queue_alive() const { return multipath_ ? multipath_->alive() : queue_->alive(); }

std::string PerfWorker::queue_error() const { return multipath_ ? multipath_->error() : queue_->error(); }

void PerfWorker::on_complete(void* arg, nvme::Status status) {
  auto& slot = *static_cast<Slot*>(arg);
  PerfWorker& self = *slot.worker;
  const auto now = self.reactor_->now();
  --self.outstanding_;
  const auto latency = std::chrono::duration_cast<std::chrono::nanoseconds>(now - slot.start).count();
  PerfPhaseResult& phase = *self.phase_;
  phase.latency.record(static_cast<std::uint64_t>(latency));
  ++phase.ios;
  ++(slot.is_read ? phase.reads : phase.writes);
  phase.bytes += self.config_.io_size;
  self.ios_done.fetch_add(1, std::memory_order_relaxed);
  self.bytes_done.fetch_add(self.config_.io_size, std::memory_order_relaxed);

  if (!status.ok()) {
    ++self.io_errors;
    self.fail(std::string(slot.is_read ? "read" : "write") + " at LBA " + std::to_string(slot.slba) + " failed: " +
              status.to_string());
    return;
  }
  if (self.kind_ == PhaseKind::read_verify) {
    VerifyResult v = check_verify_blocks(slot.buffer, self.ns_.block_size, slot.slba, self.blocks_per_io_, self.seed_);
    if (!v) {
      ++self.verify_errors;
      self.fail("verify failed at " + v.to_string());
      return;
    }
  }
  if (now >= self.deadline_) self.stopping_ = true;
  if (self.interval_.count() > 0) {
    if (!self.stopping_) self.paced_.push_back(&slot);
    return;
  }
  self.submit_next(slot);
}

}  // namespace nvmf::initiator
