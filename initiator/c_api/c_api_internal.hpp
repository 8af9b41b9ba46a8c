// The objects behind the C API's opaque handles (include/nvmf/host.h). Not installed.
#pragma once
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "fabric/reactor.hpp"
#include "initiator/controller.hpp"
#include "initiator/io_queue.hpp"
#include "nvmf/host.h"

struct nvmf_ns {
  // Atomics: the admin thread refreshes them while queue pairs on other threads read them at submission.
  std::atomic<std::uint32_t> nsid{0};
  std::atomic<std::uint32_t> block_size{0};
  std::atomic<std::uint64_t> capacity_blocks{0};
  std::atomic<std::uint32_t> max_transfer_blocks{0};
  std::atomic<bool> active{false};

  nvmf::initiator::Namespace snapshot() const {
    nvmf::initiator::Namespace ns;
    ns.nsid = nsid.load(std::memory_order_relaxed);
    ns.block_size = block_size.load(std::memory_order_relaxed);
    ns.capacity_blocks = capacity_blocks.load(std::memory_order_relaxed);
    ns.max_transfer_blocks = max_transfer_blocks.load(std::memory_order_relaxed);
    return ns;
  }
};

struct nvmf_ctrl {
  // Every use of `controller` and `namespaces` holds this; recursive so that an event callback may call back
  // into the API.
  std::recursive_mutex mutex;
  std::unique_ptr<nvmf::initiator::Controller> controller;
  std::map<std::uint32_t, std::unique_ptr<nvmf_ns>> namespaces;  // handles live until the controller is freed
  nvmf_event_cb event_cb = nullptr;
  void* event_arg = nullptr;

  // The admin thread. io_uring cancels a thread's pending requests when that thread exits, so the admin
  // queue's socket requests must all come from one thread that lives as long as the controller: with the
  // admin thread, every admin operation (connect included) runs on it; API calls from other threads hand it
  // a task and wait. Without it, the application drives the admin queue from one long-lived thread.
  std::thread admin_thread;
  std::thread::id admin_thread_id;
  std::mutex task_mutex;
  std::condition_variable task_cv;
  std::deque<std::function<void()>> tasks;
  bool stop = false;

  /// Run `fn` where admin operations belong (see above), holding `mutex`; returns its result.
  template <typename Fn>
  auto run_admin(Fn&& fn) -> decltype(fn());

  std::atomic<unsigned> qpairs{0};

  /// nvmf_ctrl_get_stats: the live queue pairs' statistics, and what destroyed ones left behind.
  std::mutex stats_mutex;
  std::map<const nvmf_qpair*, std::shared_ptr<const nvmf::initiator::IoStats>> live_stats;
  nvmf::initiator::IoStatsSnapshot retired_stats;
  std::atomic<unsigned> next_reactor_index{1};

  /// Bring the handles in line with the controller's namespace list (under `mutex`).
  void sync_namespaces();
};

template <typename Fn>
auto nvmf_ctrl::run_admin(Fn&& fn) -> decltype(fn()) {
  using Result = decltype(fn());
  if (!admin_thread.joinable() || std::this_thread::get_id() == admin_thread_id) {
    std::lock_guard lock(mutex);
    return fn();
  }
  std::packaged_task<Result()> task([this, &fn] {
    std::lock_guard lock(mutex);
    return fn();
  });
  std::future<Result> done = task.get_future();
  {
    std::lock_guard lock(task_mutex);
    tasks.push_back([&task] { task(); });
  }
  task_cv.notify_all();
  return done.get();
}

namespace nvmf::capi {

/// The applications' callbacks of one queue pair's commands. The block API's callback takes an nvme::Status, the
/// C one an int: each command borrows a context (as many as the queue's depth, made once by size()) to carry it,
/// so nothing is allocated per command.
class CallbackPool {
 public:
  void size(std::size_t depth) {
    contexts_.resize(depth);
    free_.reserve(depth);
    for (auto& ctx : contexts_) {
      ctx.pool = this;
      free_.push_back(&ctx);
    }
  }
  /// Borrows a context for (cb, arg) and runs `fn(&on_complete, context)`, which submits the command with them;
  /// the context stays borrowed only when it succeeded. The C API's int: 0, -EAGAIN when all are in use, or the
  /// submission's refusal.
  template <typename Submit>
  int submit(nvmf_io_cb cb, void* arg, Submit&& fn);

 private:
  struct Context {
    CallbackPool* pool = nullptr;
    nvmf_io_cb cb = nullptr;
    void* arg = nullptr;
  };
  static void on_complete(void* arg, nvme::Status status);

  std::vector<Context> contexts_;
  std::vector<Context*> free_;
};

}  // namespace nvmf::capi

struct nvmf_qpair {
  nvmf_ctrl* ctrl = nullptr;
  std::unique_ptr<nvmf::fabric::Reactor> reactor;
  std::unique_ptr<nvmf::initiator::IoQueue> queue;
  nvmf::capi::CallbackPool callbacks;
};

namespace nvmf::capi {

/// Copy `text` into a caller's buffer, NUL-terminated and truncated (nothing when buf is NULL).
void copy_out(const std::string& text, char* buf, std::size_t len);
/// An Error as the API's int: its NVMe status when it carries one, else -EIO.
int to_int(const initiator::Error& error);
inline int to_int(nvme::Status status) { return status.ok() ? 0 : status.value(); }
int to_int(initiator::SubmitResult result);
/// A failed connect as the API's return: the Error's int (-EIO when it carries none), its text in the caller's
/// buffer.
int connect_failed(const initiator::Error& error, char* buf, std::size_t len);
/// The connect functions' boundary: no exception may reach C. An exception from `body` becomes -ENOMEM or
/// -EIO, with its text in the caller's buffer.
template <class Body>
int without_exceptions(char* buf, std::size_t len, Body&& body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    copy_out("out of memory", buf, len);
    return -ENOMEM;
  } catch (const std::exception& e) {
    copy_out(e.what(), buf, len);
    return -EIO;
  }
}

inline void CallbackPool::on_complete(void* arg, nvme::Status status) {
  auto* ctx = static_cast<Context*>(arg);
  nvmf_io_cb cb = ctx->cb;
  void* user = ctx->arg;
  ctx->pool->free_.push_back(ctx);  // first: the callback may submit again
  cb(user, to_int(status));
}

template <typename Submit>
int CallbackPool::submit(nvmf_io_cb cb, void* arg, Submit&& fn) {
  if (free_.empty()) return -EAGAIN;
  Context* ctx = free_.back();
  ctx->cb = cb;
  ctx->arg = arg;
  const initiator::SubmitResult r = fn(&on_complete, ctx);
  if (r != initiator::SubmitResult::ok) return to_int(r);
  free_.pop_back();
  return 0;
}
/// The C options as the library's (copies the strings).
initiator::ControllerOptions to_options(const nvmf_ctrl_opts& options);

}  // namespace nvmf::capi
