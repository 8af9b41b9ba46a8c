#include "initiator/workload/perf_runner.hpp"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <thread>

#include "initiator/workload/perf_worker.hpp"
#include "initiator/workload/verify_pattern.hpp"

namespace nvmf::initiator {

namespace {
using Clock = std::chrono::steady_clock;

void pin_current_thread(int cpu) {
  if (cpu < 0 || cpu >= CPU_SETSIZE) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);  // a CPU outside the mask only costs placement
}
}  // namespace

std::string validate_perf_config(const PerfConfig& c, const Namespace& ns, const Controller& ctrl,
                                 unsigned queues_in_use) {
  if (c.io_size == 0 || c.io_size % ns.block_size != 0)
    return "I/O size " + std::to_string(c.io_size) + " is not a multiple of the block size " +
           std::to_string(ns.block_size);
  if (c.io_size / ns.block_size > ns.max_transfer_blocks)
    return "I/O size " + std::to_string(c.io_size) + " exceeds the controller's maximum transfer of " +
           std::to_string(std::uint64_t(ns.max_transfer_blocks) * ns.block_size) + " bytes";
  if (c.queue_depth == 0) return "queue depth must be at least 1";
  if (c.queue_depth > ctrl.max_io_queue_size())
    return "queue depth " + std::to_string(c.queue_depth) + " exceeds the controller's maximum queue size " +
           std::to_string(ctrl.max_io_queue_size());
  if (c.queues == 0) return "at least one queue is needed";
  if (c.queues + queues_in_use > ctrl.io_queues_granted())
    return std::to_string(c.queues) + " queues asked but the controller granted " +
           std::to_string(ctrl.io_queues_granted()) + (queues_in_use ? " (one taken by the multipath set)" : "") +
           " (connect with more I/O queues)";
  if (c.rwmixread > 100) return "rwmixread must be 0..100";
  if (c.time.count() <= 0) return "time must be positive";
  if (c.verify && ns.block_size < kVerifyMinBlockSize) return "block size too small for the verify pattern";
  const std::uint64_t blocks = c.region_bytes ? std::min(c.region_bytes / ns.block_size, ns.capacity_blocks)
                                              : ns.capacity_blocks;
  const std::uint64_t per_worker = blocks / c.queues;
  if (per_worker < c.io_size / ns.block_size)
    return "the namespace region is too small for " + std::to_string(c.queues) + " workers of " +
           std::to_string(c.io_size) + "-byte I/Os";
  return {};
}

namespace {
/// Connects a worker's queue on `reactor` and hands both to the worker; an error when it cannot.
using AttachQueue = std::function<Error(PerfWorker& worker, std::unique_ptr<fabric::Reactor> reactor)>;

PerfResult run_workers(const Namespace& ns, const PerfConfig& config, const AttachQueue& attach_queue,
                       const std::function<void(std::chrono::milliseconds)>& poll,
                       const std::function<void(const PerfProgress&)>& progress, Error* error) {
  PerfResult result;
  result.seed = config.seed ? config.seed : static_cast<std::uint64_t>(Clock::now().time_since_epoch().count()) | 1;

  // Equal slices of the region, each a whole number of I/Os, so workers never write the same blocks.
  const std::uint32_t blocks_per_io = config.io_size / ns.block_size;
  const std::uint64_t blocks = config.region_bytes ? std::min(config.region_bytes / ns.block_size, ns.capacity_blocks)
                                                   : ns.capacity_blocks;
  const std::uint64_t slice = blocks / config.queues / blocks_per_io * blocks_per_io;

  std::vector<std::unique_ptr<PerfWorker>> workers;
  for (unsigned i = 0; i < config.queues; ++i) {
    auto worker = std::make_unique<PerfWorker>(i, config, ns, i * slice, slice, result.seed);
    fabric::ReactorOptions ro;
    ro.cpu = config.cores.empty() ? -1 : config.cores[i % config.cores.size()];
    ro.busy_poll = config.busy_poll;
    ro.adaptive_poll = config.adaptive_poll;
    auto reactor = std::make_unique<fabric::Reactor>(i + 1, ro);
    // Connected here, on the calling thread (the Controller is single-threaded), then handed to the worker.
    if (Error e = attach_queue(*worker, std::move(reactor))) {
      if (error) *error = e;
      return result;
    }
    workers.push_back(std::move(worker));
  }

  const auto start = Clock::now();
  const auto end = start + config.time;
  std::vector<std::thread> threads;
  for (auto& w : workers) {
    PerfWorker* worker = w.get();
    int cpu = config.cores.empty() ? -1 : config.cores[threads.size() % config.cores.size()];
    threads.emplace_back([worker, cpu, start, end] {
      pin_current_thread(cpu);
      worker->run(start, end);
    });
  }

  // Keep the admin queue alive and report progress until every worker is done.
  auto next_report = start + std::chrono::seconds(1);
  std::uint64_t last_ios = 0, last_bytes = 0;
  auto last_time = start;
  auto all_finished = [&] {
    return std::all_of(workers.begin(), workers.end(), [](auto& w) { return w->finished.load(std::memory_order_acquire); });
  };
  while (!all_finished()) {
    poll(std::chrono::milliseconds(50));
    const auto now = Clock::now();
    if (now >= next_report) {
      std::uint64_t ios = 0, bytes = 0;
      for (auto& w : workers) {
        ios += w->ios_done.load(std::memory_order_relaxed);
        bytes += w->bytes_done.load(std::memory_order_relaxed);
      }
      const double dt = std::chrono::duration<double>(now - last_time).count();
      if (progress) {
        PerfProgress p;
        p.elapsed_seconds = std::chrono::duration<double>(now - start).count();
        p.phase = config.verify ? (workers[0]->phase_index.load(std::memory_order_relaxed) ? "read-verify" : "write")
                                : to_string(config.pattern);
        p.iops = static_cast<double>(ios - last_ios) / dt;
        p.mib_per_second = static_cast<double>(bytes - last_bytes) / dt / (1 << 20);
        progress(p);
      }
      last_ios = ios;
      last_bytes = bytes;
      last_time = now;
      next_report += std::chrono::seconds(1);
    }
  }
  for (auto& t : threads) t.join();

  for (auto& w : workers) {
    for (std::size_t i = 0; i < w->phases.size(); ++i) {
      if (result.phases.size() <= i) result.phases.push_back(PerfPhaseResult(w->phases[i].name));
      PerfPhaseResult& total = result.phases[i];
      const PerfPhaseResult& part = w->phases[i];
      total.ios += part.ios;
      total.reads += part.reads;
      total.writes += part.writes;
      total.bytes += part.bytes;
      total.seconds = std::max(total.seconds, part.seconds);
      total.latency.merge(part.latency);
    }
    if (const MultipathQueue* q = w->multipath_queue()) {
      result.path_retries += q->retries();
      result.path_ios.resize(q->path_count());
      for (std::size_t p = 0; p < q->path_count(); ++p) result.path_ios[p] += q->completed_on(p);
    }
    result.io_errors += w->io_errors;
    result.verify_errors += w->verify_errors;
    if (result.first_error.empty()) result.first_error = w->first_error;
    w->detach();
  }
  return result;
}
}  // namespace

PerfResult run_perf(Controller& ctrl, const Namespace& ns, const PerfConfig& config,
                    const std::function<void(const PerfProgress&)>& progress, Error* error) {
  if (std::string why = validate_perf_config(config, ns, ctrl); !why.empty()) {
    if (error) *error = Error{nvme::Status::generic(NVME_SC_INVALID_FIELD), why};
    return {};
  }
  auto attach = [&](PerfWorker& worker, std::unique_ptr<fabric::Reactor> reactor) {
    Error e;
    auto queue = ctrl.create_io_queue(*reactor, &e, static_cast<std::uint16_t>(config.queue_depth));
    if (queue) worker.attach(std::move(reactor), std::move(queue));
    return e;
  };
  return run_workers(ns, config, attach, [&](std::chrono::milliseconds wait) { ctrl.poll(wait); }, progress, error);
}

PerfResult run_perf(MultipathSet& set, const Namespace& ns, const PerfConfig& config,
                    const std::function<void(const PerfProgress&)>& progress, Error* error) {
  for (std::size_t p = 0; p < set.path_count(); ++p) {
    // The set keeps one I/O queue per path for its synchronous calls.
    if (std::string why = validate_perf_config(config, ns, set.controller(p), 1); !why.empty()) {
      if (error) *error = Error{nvme::Status::generic(NVME_SC_INVALID_FIELD), "path " + std::to_string(p + 1) + ": " + why};
      return {};
    }
  }
  auto attach = [&](PerfWorker& worker, std::unique_ptr<fabric::Reactor> reactor) {
    Error e;
    auto queue = set.create_queue(*reactor, static_cast<std::uint16_t>(config.queue_depth), config.path_policy, &e);
    if (queue) worker.attach(std::move(reactor), std::move(queue));
    return e;
  };
  // The set's poll does not wait: pace it like a controller's poll.
  auto poll = [&](std::chrono::milliseconds wait) {
    set.poll();
    std::this_thread::sleep_for(wait / 5);
  };
  return run_workers(ns, config, attach, poll, progress, error);
}

}  // namespace nvmf::initiator
