// C API, queue pairs: one I/O queue with its own reactor per calling thread; asynchronous and synchronous I/O.
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <new>

#include "initiator/c_api/c_api_internal.hpp"

using nvmf::initiator::Namespace;
using nvmf::initiator::IoCallback;

static_assert(sizeof(nvmf_range) == sizeof(nvme_dsm_range) && offsetof(nvmf_range, nlb) == offsetof(nvme_dsm_range, nlb) &&
                  offsetof(nvmf_range, slba) == offsetof(nvme_dsm_range, slba),
              "struct nvmf_range is handed to the controller as struct nvme_dsm_range");
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "struct nvmf_range is the little-endian wire layout");

namespace {
// Validate the handles, borrow a context, run `submit` with the block API's callback, return the API's int.
template <typename Submit>
int submit(nvmf_qpair* qp, const nvmf_ns* ns, nvmf_io_cb cb, void* arg, Submit&& fn) {
  if (!qp || !ns || !cb) return -EINVAL;
  if (!ns->active.load(std::memory_order_relaxed)) return -ENXIO;
  const Namespace snapshot = ns->snapshot();
  return qp->callbacks.submit(cb, arg, [&](IoCallback done, void* ctx) { return fn(*qp->queue, snapshot, done, ctx); });
}

template <typename Run>
int run_sync(nvmf_qpair* qp, const nvmf_ns* ns, Run&& fn) {
  if (!qp || !ns) return -EINVAL;
  if (!ns->active.load(std::memory_order_relaxed)) return -ENXIO;
  const Namespace snapshot = ns->snapshot();
  return nvmf::capi::to_int(fn(*qp->queue, snapshot));
}
}  // namespace

extern "C" {

nvmf_qpair* nvmf_qpair_create(nvmf_ctrl* ctrl, uint16_t queue_size, char* errbuf, size_t errlen) {
  if (!ctrl) return nullptr;
  try {
    auto qp = std::make_unique<nvmf_qpair>();
    qp->ctrl = ctrl;
    qp->reactor = std::make_unique<nvmf::fabric::Reactor>(ctrl->next_reactor_index.fetch_add(1));
    nvmf::initiator::Error error;
    {
      std::lock_guard lock(ctrl->mutex);
      qp->queue = ctrl->controller->create_io_queue(*qp->reactor, &error, queue_size);
    }
    if (!qp->queue) {
      nvmf::capi::copy_out(error.to_string(), errbuf, errlen);
      return nullptr;
    }
    qp->callbacks.size(qp->queue->depth());
    ctrl->qpairs.fetch_add(1);
    {
      std::lock_guard lock(ctrl->stats_mutex);
      ctrl->live_stats[qp.get()] = qp->queue->stats();
    }
    return qp.release();
  } catch (const std::exception& e) {
    nvmf::capi::copy_out(e.what(), errbuf, errlen);
    return nullptr;
  }
}

void nvmf_qpair_destroy(nvmf_qpair* qp) {
  if (!qp) return;
  nvmf_ctrl* ctrl = qp->ctrl;
  qp->queue.reset();  // completes what is outstanding, callbacks included
  qp->reactor.reset();
  {
    // Counted after the queue is gone, so the commands its closing completed are in.
    std::lock_guard lock(ctrl->stats_mutex);
    if (auto it = ctrl->live_stats.find(qp); it != ctrl->live_stats.end()) {
      ctrl->retired_stats += it->second->snapshot();
      ctrl->live_stats.erase(it);
    }
  }
  delete qp;
  ctrl->qpairs.fetch_sub(1);
}

int nvmf_qpair_read(nvmf_qpair* qp, const nvmf_ns* ns, void* buf, uint64_t slba, uint32_t nlb, nvmf_io_cb cb,
                    void* arg) {
  return submit(qp, ns, cb, arg, [&](auto& q, const Namespace& n, auto done, void* ctx) {
    return q.read(n, slba, nlb, buf, done, ctx);
  });
}

int nvmf_qpair_readv(nvmf_qpair* qp, const nvmf_ns* ns, const struct iovec* iov, int iovcnt, uint64_t slba,
                     uint32_t nlb, nvmf_io_cb cb, void* arg) {
  if (iovcnt <= 0) return -EINVAL;
  return submit(qp, ns, cb, arg, [&](auto& q, const Namespace& n, auto done, void* ctx) {
    return q.readv(n, slba, nlb, iov, static_cast<std::uint32_t>(iovcnt), done, ctx);
  });
}

int nvmf_qpair_write(nvmf_qpair* qp, const nvmf_ns* ns, const void* buf, uint64_t slba, uint32_t nlb,
                     uint32_t flags, nvmf_io_cb cb, void* arg) {
  return submit(qp, ns, cb, arg, [&](auto& q, const Namespace& n, auto done, void* ctx) {
    return q.write(n, slba, nlb, buf, done, ctx, flags & NVMF_IO_FUA);
  });
}

int nvmf_qpair_writev(nvmf_qpair* qp, const nvmf_ns* ns, const struct iovec* iov, int iovcnt, uint64_t slba,
                      uint32_t nlb, uint32_t flags, nvmf_io_cb cb, void* arg) {
  if (iovcnt <= 0) return -EINVAL;
  return submit(qp, ns, cb, arg, [&](auto& q, const Namespace& n, auto done, void* ctx) {
    return q.writev(n, slba, nlb, iov, static_cast<std::uint32_t>(iovcnt), done, ctx, flags & NVMF_IO_FUA);
  });
}

int nvmf_qpair_flush(nvmf_qpair* qp, const nvmf_ns* ns, nvmf_io_cb cb, void* arg) {
  return submit(qp, ns, cb, arg, [&](auto& q, const Namespace& n, auto done, void* ctx) { return q.flush(n, done, ctx); });
}

int nvmf_qpair_write_zeroes(nvmf_qpair* qp, const nvmf_ns* ns, uint64_t slba, uint32_t nlb, uint32_t flags,
                            nvmf_io_cb cb, void* arg) {
  return submit(qp, ns, cb, arg, [&](auto& q, const Namespace& n, auto done, void* ctx) {
    return q.write_zeroes(n, slba, nlb, done, ctx, flags & NVMF_IO_DEAC);
  });
}

int nvmf_qpair_deallocate(nvmf_qpair* qp, const nvmf_ns* ns, const struct nvmf_range* ranges, uint32_t count,
                          nvmf_io_cb cb, void* arg) {
  return submit(qp, ns, cb, arg, [&](auto& q, const Namespace& n, auto done, void* ctx) {
    return q.deallocate(n, reinterpret_cast<const nvme_dsm_range*>(ranges), count, done, ctx);
  });
}

int nvmf_qpair_poll(nvmf_qpair* qp, int timeout_ms) {
  if (!qp) return -EINVAL;
  unsigned n = qp->queue->process_completions(std::chrono::milliseconds(std::max(timeout_ms, 0)));
  if (n == 0 && !qp->queue->alive()) return -ENOTCONN;
  return static_cast<int>(n);
}

int nvmf_qpair_reauthenticate(nvmf_qpair* qp) {
  if (!qp) return -EINVAL;
  return nvmf::capi::to_int(qp->queue->reauthenticate());
}

uint32_t nvmf_qpair_outstanding(nvmf_qpair* qp) { return qp ? qp->queue->outstanding() : 0; }
uint16_t nvmf_qpair_depth(nvmf_qpair* qp) { return qp ? qp->queue->depth() : 0; }

int nvmf_qpair_register_buffer(nvmf_qpair* qp, void* addr, size_t len) {
  if (!qp || !addr || len == 0) return -EINVAL;
  return qp->queue->register_buffer(addr, len) ? 0 : -ENOMEM;
}

int nvmf_qpair_read_sync(nvmf_qpair* qp, const nvmf_ns* ns, void* buf, uint64_t slba, uint32_t nlb) {
  if (!buf) return -EINVAL;
  return run_sync(qp, ns, [&](auto& q, const Namespace& n) { return q.read_sync(n, slba, nlb, buf); });
}

int nvmf_qpair_write_sync(nvmf_qpair* qp, const nvmf_ns* ns, const void* buf, uint64_t slba, uint32_t nlb,
                          uint32_t flags) {
  if (!buf) return -EINVAL;
  return run_sync(qp, ns, [&](auto& q, const Namespace& n) { return q.write_sync(n, slba, nlb, buf, flags & NVMF_IO_FUA); });
}

int nvmf_qpair_flush_sync(nvmf_qpair* qp, const nvmf_ns* ns) {
  return run_sync(qp, ns, [&](auto& q, const Namespace& n) { return q.flush_sync(n); });
}

int nvmf_qpair_write_zeroes_sync(nvmf_qpair* qp, const nvmf_ns* ns, uint64_t slba, uint32_t nlb, uint32_t flags) {
  return run_sync(qp, ns, [&](auto& q, const Namespace& n) {
    return q.write_zeroes_sync(n, slba, nlb, flags & NVMF_IO_DEAC);
  });
}

int nvmf_qpair_deallocate_sync(nvmf_qpair* qp, const nvmf_ns* ns, const struct nvmf_range* ranges, uint32_t count) {
  return run_sync(qp, ns, [&](auto& q, const Namespace& n) {
    return q.deallocate_sync(n, reinterpret_cast<const nvme_dsm_range*>(ranges), count);
  });
}

}  // extern "C"
