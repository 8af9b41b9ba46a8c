// C API, multipath sets: a MultipathSet driven by a background thread of the set's own, and queue pairs over
// MultipathQueue (one I/O queue per path on the calling thread's reactor).
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <future>
#include <new>

#include "initiator/c_api/c_api_internal.hpp"
#include "initiator/multipath.hpp"

using nvmf::initiator::MultipathQueue;
using nvmf::initiator::MultipathSet;
using nvmf::initiator::IoCallback;

struct nvmf_mpath {
  std::mutex mutex;  ///< Every use of `set` (the background thread polls it; queue pairs are made under it)
  std::unique_ptr<MultipathSet> set;
  std::vector<nvmf::initiator::Namespace> namespaces;  ///< At connect time, in NSID order
  nvmf::initiator::PathPolicy policy = nvmf::initiator::PathPolicy::round_robin;
  std::thread thread;
  std::atomic<bool> stop{false};

  const nvmf::initiator::Namespace* find(std::uint32_t nsid) const {
    for (const auto& ns : namespaces)
      if (ns.nsid == nsid) return &ns;
    return nullptr;
  }
};

struct nvmf_mpath_qpair {
  std::unique_ptr<nvmf::fabric::Reactor> reactor;
  std::unique_ptr<MultipathQueue> queue;
  nvmf::capi::CallbackPool callbacks;
};

namespace {
// The set's thread: connects every path, then keeps them alive (keep-alive, reconnects, ANA) every 10 ms until
// told to stop, and frees the set itself. io_uring cancels a thread's socket requests when it exits: the admin
// queues' requests all come from this thread, which outlives them.
void set_thread(nvmf_mpath* m, std::vector<nvmf::initiator::ControllerOptions> paths,
                std::promise<nvmf::initiator::Error> connected) {
  nvmf::initiator::Error error;
  {
    std::lock_guard lock(m->mutex);
    m->set = MultipathSet::connect(paths, &error);
    if (m->set) {
      m->set->set_policy(m->policy);
      m->namespaces = m->set->controller(0).namespaces();
      std::sort(m->namespaces.begin(), m->namespaces.end(), [](const auto& a, const auto& b) { return a.nsid < b.nsid; });
      // A command may go through any path: the largest transfer is the smallest of theirs.
      for (auto& ns : m->namespaces)
        for (std::size_t p = 1; p < m->set->path_count(); ++p)
          if (const auto* other = m->set->controller(p).find_namespace(ns.nsid))
            ns.max_transfer_blocks = std::min(ns.max_transfer_blocks, other->max_transfer_blocks);
    }
  }
  const bool ok = m->set != nullptr;
  connected.set_value(error);
  if (!ok) return;
  while (!m->stop.load(std::memory_order_acquire)) {
    {
      std::lock_guard lock(m->mutex);
      m->set->poll();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::lock_guard lock(m->mutex);
  m->set.reset();  // every path's queue, then its controller (orderly shutdown)
}

template <typename Submit>
int submit(nvmf_mpath_qpair* qp, nvmf_io_cb cb, void* arg, Submit&& fn) {
  if (!qp || !cb) return -EINVAL;
  return qp->callbacks.submit(cb, arg, [&](IoCallback done, void* ctx) { return fn(*qp->queue, done, ctx); });
}
}  // namespace

extern "C" {

int nvmf_mpath_connect(const struct nvmf_ctrl_opts* paths, size_t count, enum nvmf_path_policy policy,
                       nvmf_mpath** out, char* errbuf, size_t errlen) {
  if (out) *out = nullptr;
  // A C caller may pass any int here. Loading an out-of-range value as the C++ enum is undefined, so its bytes are
  // read as an int.
  int policy_value = 0;
  static_assert(sizeof policy == sizeof policy_value);
  std::memcpy(&policy_value, &policy, sizeof policy_value);
  if (!paths || !out || count == 0 || count > 64 ||
      (policy_value != NVMF_PATH_ROUND_ROBIN && policy_value != NVMF_PATH_LEAST_QUEUED)) {
    nvmf::capi::copy_out("invalid arguments (1 to 64 paths, a known policy)", errbuf, errlen);
    return -EINVAL;
  }
  return nvmf::capi::without_exceptions(errbuf, errlen, [&]() -> int {
    std::vector<nvmf::initiator::ControllerOptions> options;
    for (std::size_t i = 0; i < count; ++i) {
      if (paths[i].opts_size < sizeof(nvmf_ctrl_opts) || !paths[i].subnqn) {
        nvmf::capi::copy_out("path " + std::to_string(i + 1) +
                                 ": invalid options (initialise with nvmf_ctrl_opts_init, set subnqn)",
                             errbuf, errlen);
        return -EINVAL;
      }
      options.push_back(nvmf::capi::to_options(paths[i]));
    }
    auto m = std::make_unique<nvmf_mpath>();
    m->policy = policy_value == NVMF_PATH_LEAST_QUEUED ? nvmf::initiator::PathPolicy::least_queued
                                                 : nvmf::initiator::PathPolicy::round_robin;
    std::promise<nvmf::initiator::Error> connected;
    auto result = connected.get_future();
    m->thread = std::thread(set_thread, m.get(), std::move(options), std::move(connected));
    const nvmf::initiator::Error error = result.get();
    if (!m->set) {
      m->thread.join();
      return nvmf::capi::connect_failed(error, errbuf, errlen);
    }
    *out = m.release();
    return 0;
  });
}

void nvmf_mpath_disconnect(nvmf_mpath* m) {
  if (!m) return;
  m->stop.store(true, std::memory_order_release);
  m->thread.join();
  delete m;
}

size_t nvmf_mpath_get_path_count(nvmf_mpath* m) {
  if (!m) return 0;
  std::lock_guard lock(m->mutex);
  return m->set ? m->set->path_count() : 0;
}

bool nvmf_mpath_path_is_connected(nvmf_mpath* m, size_t path) {
  if (!m) return false;
  std::lock_guard lock(m->mutex);
  return m->set && path < m->set->path_count() && m->set->controller(path).alive();
}

uint32_t nvmf_mpath_first_nsid(nvmf_mpath* m) { return m && !m->namespaces.empty() ? m->namespaces.front().nsid : 0; }

uint32_t nvmf_mpath_next_nsid(nvmf_mpath* m, uint32_t prev) {
  if (!m) return 0;
  for (const auto& ns : m->namespaces)
    if (ns.nsid > prev) return ns.nsid;
  return 0;
}

uint32_t nvmf_mpath_ns_get_block_size(nvmf_mpath* m, uint32_t nsid) {
  const nvmf::initiator::Namespace* ns = m ? m->find(nsid) : nullptr;
  return ns ? ns->block_size : 0;
}

uint64_t nvmf_mpath_ns_get_num_blocks(nvmf_mpath* m, uint32_t nsid) {
  const nvmf::initiator::Namespace* ns = m ? m->find(nsid) : nullptr;
  return ns ? ns->capacity_blocks : 0;
}

uint32_t nvmf_mpath_ns_get_max_transfer_blocks(nvmf_mpath* m, uint32_t nsid) {
  const nvmf::initiator::Namespace* ns = m ? m->find(nsid) : nullptr;
  return ns ? ns->max_transfer_blocks : 0;
}

nvmf_mpath_qpair* nvmf_mpath_qpair_create(nvmf_mpath* m, uint16_t queue_size, char* errbuf, size_t errlen) {
  if (!m) return nullptr;
  try {
    auto qp = std::make_unique<nvmf_mpath_qpair>();
    qp->reactor = std::make_unique<nvmf::fabric::Reactor>(0);
    nvmf::initiator::Error error;
    {
      std::lock_guard lock(m->mutex);
      if (m->set) qp->queue = m->set->create_queue(*qp->reactor, queue_size, m->policy, &error);
    }
    if (!qp->queue) {
      nvmf::capi::copy_out(error.to_string(), errbuf, errlen);
      return nullptr;
    }
    qp->callbacks.size(qp->queue->depth());
    return qp.release();
  } catch (const std::exception& e) {
    nvmf::capi::copy_out(e.what(), errbuf, errlen);
    return nullptr;
  }
}

void nvmf_mpath_qpair_destroy(nvmf_mpath_qpair* qp) {
  if (!qp) return;
  qp->queue.reset();  // completes what is outstanding, callbacks included
  qp->reactor.reset();
  delete qp;
}

int nvmf_mpath_qpair_read(nvmf_mpath_qpair* qp, uint32_t nsid, void* buf, uint64_t slba, uint32_t nlb,
                          nvmf_io_cb cb, void* arg) {
  return submit(qp, cb, arg, [&](MultipathQueue& q, IoCallback done, void* ctx) {
    return q.read(nsid, slba, nlb, buf, done, ctx);
  });
}

int nvmf_mpath_qpair_write(nvmf_mpath_qpair* qp, uint32_t nsid, const void* buf, uint64_t slba, uint32_t nlb,
                           uint32_t flags, nvmf_io_cb cb, void* arg) {
  return submit(qp, cb, arg, [&](MultipathQueue& q, IoCallback done, void* ctx) {
    return q.write(nsid, slba, nlb, buf, done, ctx, flags & NVMF_IO_FUA);
  });
}

int nvmf_mpath_qpair_flush(nvmf_mpath_qpair* qp, uint32_t nsid, nvmf_io_cb cb, void* arg) {
  return submit(qp, cb, arg, [&](MultipathQueue& q, IoCallback done, void* ctx) { return q.flush(nsid, done, ctx); });
}

int nvmf_mpath_qpair_write_zeroes(nvmf_mpath_qpair* qp, uint32_t nsid, uint64_t slba, uint32_t nlb, uint32_t flags,
                                  nvmf_io_cb cb, void* arg) {
  return submit(qp, cb, arg, [&](MultipathQueue& q, IoCallback done, void* ctx) {
    return q.write_zeroes(nsid, slba, nlb, done, ctx, flags & NVMF_IO_DEAC);
  });
}

int nvmf_mpath_qpair_poll(nvmf_mpath_qpair* qp, int timeout_ms) {
  if (!qp) return -EINVAL;
  const unsigned n = qp->queue->process_completions(std::chrono::milliseconds(std::max(timeout_ms, 0)));
  if (n == 0 && !qp->queue->alive()) return -ENOTCONN;
  return static_cast<int>(n);
}

uint32_t nvmf_mpath_qpair_outstanding(nvmf_mpath_qpair* qp) { return qp ? qp->queue->outstanding() : 0; }

uint64_t nvmf_mpath_qpair_get_retries(nvmf_mpath_qpair* qp) { return qp ? qp->queue->retries() : 0; }

uint64_t nvmf_mpath_qpair_get_path_commands(nvmf_mpath_qpair* qp, size_t path) {
  return qp && path < qp->queue->path_count() ? qp->queue->completed_on(path) : 0;
}

}  // extern "C"
