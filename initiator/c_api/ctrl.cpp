// C API, controller side: options, connect/disconnect, the admin thread, events, identity and namespaces.
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>

#include "fabric/log.hpp"
#include "initiator/c_api/c_api_internal.hpp"

using nvmf::initiator::Controller;
using nvmf::initiator::ControllerEvent;
using nvmf::initiator::ControllerOptions;

namespace nvmf::capi {

void copy_out(const std::string& text, char* buf, std::size_t len) {
  if (!buf || len == 0) return;
  const std::size_t n = std::min(text.size(), len - 1);
  std::memcpy(buf, text.data(), n);
  buf[n] = '\0';
}

int to_int(const initiator::Error& error) {
  if (!error) return 0;
  return error.status.ok() ? -EIO : error.status.value();
}

int connect_failed(const initiator::Error& error, char* buf, std::size_t len) {
  copy_out(error.to_string(), buf, len);
  const int rc = to_int(error);
  return rc ? rc : -EIO;
}

int to_int(initiator::SubmitResult result) {
  switch (result) {
    case initiator::SubmitResult::ok: return 0;
    case initiator::SubmitResult::queue_full: return -EAGAIN;
    case initiator::SubmitResult::invalid_argument: return -EINVAL;
    case initiator::SubmitResult::disconnected: return -ENOTCONN;
  }
  return -EIO;
}

namespace {
std::string trimmed(const char* field, std::size_t size) {
  std::size_t n = strnlen(field, size);
  while (n > 0 && field[n - 1] == ' ') --n;
  return std::string(field, n);
}

std::chrono::milliseconds seconds_or_negative(std::int32_t s) {
  return s < 0 ? std::chrono::milliseconds(-1) : std::chrono::milliseconds(std::int64_t(s) * 1000);
}

}  // namespace

ControllerOptions to_options(const nvmf_ctrl_opts& o) {
  ControllerOptions c;
  if (o.transport) c.transport = o.transport;
  if (o.traddr) c.traddr = o.traddr;
  if (o.trsvcid) c.trsvcid = o.trsvcid;
  if (o.subnqn) c.subnqn = o.subnqn;
  if (o.hostnqn) c.hostnqn = o.hostnqn;
  if (o.hostid) c.hostid = o.hostid;
  c.nr_io_queues = o.nr_io_queues;
  c.io_queue_size = o.io_queue_size;
  c.keep_alive_timeout_ms = o.keep_alive_tmo_ms;
  c.io_timeout = std::chrono::milliseconds(o.io_timeout_ms);
  c.reconnect_delay = std::chrono::milliseconds(std::int64_t(std::max(o.reconnect_delay_s, 0)) * 1000);
  c.ctrl_loss_timeout = seconds_or_negative(o.ctrl_loss_tmo_s);
  c.fast_io_fail_timeout = seconds_or_negative(o.fast_io_fail_tmo_s);
  c.header_digest = o.hdr_digest;
  c.data_digest = o.data_digest;
  if (o.dhchap_secret) c.dhchap_secret = o.dhchap_secret;
  if (o.dhchap_ctrl_secret) c.dhchap_ctrl_secret = o.dhchap_ctrl_secret;
  if (o.tls_key) c.tls_key = o.tls_key;
  return c;
}

namespace {

nvmf_event_type event_type(ControllerEvent::Type t) {
  switch (t) {
    case ControllerEvent::Type::namespaces_changed: return NVMF_EVENT_NS_CHANGED;
    case ControllerEvent::Type::discovery_changed: return NVMF_EVENT_DISCOVERY_CHANGED;
    case ControllerEvent::Type::other_aen: return NVMF_EVENT_OTHER_AEN;
    case ControllerEvent::Type::disconnected: return NVMF_EVENT_DISCONNECTED;
    case ControllerEvent::Type::reconnected: return NVMF_EVENT_RECONNECTED;
    case ControllerEvent::Type::failed: return NVMF_EVENT_FAILED;
  }
  return NVMF_EVENT_OTHER_AEN;
}

// The admin thread: runs the tasks other threads hand it, and between them drives keep-alive, events and
// reconnects every 10 ms.
void admin_loop(nvmf_ctrl* c) {
  for (;;) {
    std::deque<std::function<void()>> batch;
    {
      std::unique_lock lock(c->task_mutex);
      c->task_cv.wait_for(lock, std::chrono::milliseconds(10), [c] { return c->stop || !c->tasks.empty(); });
      batch.swap(c->tasks);
      if (c->stop && batch.empty()) return;
    }
    for (auto& task : batch) task();
    std::lock_guard lock(c->mutex);
    if (c->controller) c->controller->poll(std::chrono::milliseconds(0));
  }
}

void stop_admin_thread(nvmf_ctrl* c) {
  if (!c->admin_thread.joinable()) return;
  {
    std::lock_guard lock(c->task_mutex);
    c->stop = true;
  }
  c->task_cv.notify_all();
  c->admin_thread.join();
}
}  // namespace
}  // namespace nvmf::capi

void nvmf_ctrl::sync_namespaces() {
  std::map<std::uint32_t, bool> seen;
  for (const auto& ns : controller->namespaces()) {
    auto& handle = namespaces[ns.nsid];
    if (!handle) handle = std::make_unique<nvmf_ns>();
    handle->nsid.store(ns.nsid);
    handle->block_size.store(ns.block_size);
    handle->capacity_blocks.store(ns.capacity_blocks);
    handle->max_transfer_blocks.store(ns.max_transfer_blocks);
    handle->active.store(true);
    seen[ns.nsid] = true;
  }
  for (auto& [nsid, handle] : namespaces)
    if (!seen.count(nsid)) handle->active.store(false);
}

extern "C" {

void nvmf_ctrl_opts_init(struct nvmf_ctrl_opts* opts, size_t opts_size) {
  if (!opts) return;
  nvmf_ctrl_opts d{};
  d.opts_size = sizeof d;
  d.transport = "tcp";
  d.traddr = "127.0.0.1";
  d.nr_io_queues = 1;
  d.io_queue_size = 128;
  d.keep_alive_tmo_ms = 5000;
  d.io_timeout_ms = 30000;
  d.reconnect_delay_s = 10;
  d.ctrl_loss_tmo_s = 600;
  d.fast_io_fail_tmo_s = -1;
  d.admin_thread = true;
  // A caller built against an older, shorter struct gets the prefix it knows.
  std::memcpy(opts, &d, std::min(opts_size, sizeof d));
  opts->opts_size = std::min(opts_size, sizeof d);
}

int nvmf_ctrl_connect(const struct nvmf_ctrl_opts* opts, nvmf_ctrl** out, char* errbuf, size_t errlen) {
  if (out) *out = nullptr;
  if (!opts || !out || opts->opts_size < sizeof(nvmf_ctrl_opts)) {
    nvmf::capi::copy_out("invalid arguments (initialise the options with nvmf_ctrl_opts_init)", errbuf, errlen);
    return -EINVAL;
  }
  // The library logs to stderr at "info"; NVMF_HOST_LOG=debug|info|warn|error changes that.
  if (const char* level = std::getenv("NVMF_HOST_LOG")) {
    const std::string l = level;
    if (l == "debug") nvmf::log::set_level(nvmf::log::Level::debug);
    if (l == "info") nvmf::log::set_level(nvmf::log::Level::info);
    if (l == "warn") nvmf::log::set_level(nvmf::log::Level::warn);
    if (l == "error") nvmf::log::set_level(nvmf::log::Level::error);
  }
  if (!opts->subnqn) {
    nvmf::capi::copy_out("subnqn is required", errbuf, errlen);
    return -EINVAL;
  }
  return nvmf::capi::without_exceptions(errbuf, errlen, [&]() -> int {
    auto c = std::make_unique<nvmf_ctrl>();
    nvmf_ctrl* raw = c.get();
    if (opts->admin_thread) {
      c->admin_thread = std::thread(nvmf::capi::admin_loop, raw);
      c->admin_thread_id = c->admin_thread.get_id();
    }
    nvmf::initiator::Error error;
    const ControllerOptions options = nvmf::capi::to_options(*opts);
    bool connected = c->run_admin([&] {
      c->controller = Controller::connect(options, &error);
      if (!c->controller) return false;
      c->controller->set_event_callback([raw](const ControllerEvent& e) {
        if (e.type == ControllerEvent::Type::namespaces_changed || e.type == ControllerEvent::Type::reconnected)
          raw->sync_namespaces();
        if (raw->event_cb) {
          nvmf_event event{nvmf::capi::event_type(e.type), e.aen_dw0};
          raw->event_cb(raw->event_arg, raw, &event);
        }
      });
      c->sync_namespaces();
      return true;
    });
    if (!connected) {
      nvmf::capi::stop_admin_thread(raw);
      return nvmf::capi::connect_failed(error, errbuf, errlen);
    }
    *out = c.release();
    return 0;
  });
}

int nvmf_ctrl_disconnect(nvmf_ctrl* ctrl) {
  if (!ctrl) return -EINVAL;
  if (ctrl->qpairs.load() != 0) return -EBUSY;
  int rc = ctrl->run_admin([ctrl] {
    nvmf::initiator::Error e = ctrl->controller->shutdown();
    if (e) NVMF_LOG(warn, "controller shutdown: %s", e.to_string().c_str());
    ctrl->controller.reset();
    return nvmf::capi::to_int(e);
  });
  nvmf::capi::stop_admin_thread(ctrl);
  delete ctrl;
  return rc;
}

int nvmf_ctrl_process_admin(nvmf_ctrl* ctrl, int timeout_ms) {
  if (!ctrl) return -EINVAL;
  return ctrl->run_admin([&] {
    ctrl->controller->poll(std::chrono::milliseconds(std::max(timeout_ms, 0)));
    return ctrl->controller->state() == Controller::State::failed ? -ENOTCONN : 0;
  });
}

void nvmf_ctrl_set_event_cb(nvmf_ctrl* ctrl, nvmf_event_cb cb, void* arg) {
  if (!ctrl) return;
  std::lock_guard lock(ctrl->mutex);
  ctrl->event_cb = cb;
  ctrl->event_arg = arg;
}

bool nvmf_ctrl_is_connected(nvmf_ctrl* ctrl) {
  if (!ctrl) return false;
  std::lock_guard lock(ctrl->mutex);
  return ctrl->controller->alive();
}

bool nvmf_ctrl_is_failed(nvmf_ctrl* ctrl) {
  if (!ctrl) return false;
  std::lock_guard lock(ctrl->mutex);
  return ctrl->controller->state() == Controller::State::failed;
}

uint16_t nvmf_ctrl_get_cntlid(nvmf_ctrl* ctrl) {
  std::lock_guard lock(ctrl->mutex);
  return ctrl->controller->cntlid();
}

uint16_t nvmf_ctrl_get_io_queues(nvmf_ctrl* ctrl) {
  std::lock_guard lock(ctrl->mutex);
  return ctrl->controller->io_queues_granted();
}

uint16_t nvmf_ctrl_get_max_queue_size(nvmf_ctrl* ctrl) {
  std::lock_guard lock(ctrl->mutex);
  return ctrl->controller->max_io_queue_size();
}

uint32_t nvmf_ctrl_get_max_transfer(nvmf_ctrl* ctrl) {
  std::lock_guard lock(ctrl->mutex);
  return ctrl->controller->max_transfer_size();
}

void nvmf_ctrl_get_serial(nvmf_ctrl* ctrl, char* buf, size_t len) {
  std::lock_guard lock(ctrl->mutex);
  const auto& id = ctrl->controller->id();
  nvmf::capi::copy_out(nvmf::capi::trimmed(id.sn, sizeof id.sn), buf, len);
}

void nvmf_ctrl_get_model(nvmf_ctrl* ctrl, char* buf, size_t len) {
  std::lock_guard lock(ctrl->mutex);
  const auto& id = ctrl->controller->id();
  nvmf::capi::copy_out(nvmf::capi::trimmed(id.mn, sizeof id.mn), buf, len);
}

void nvmf_ctrl_get_subnqn(nvmf_ctrl* ctrl, char* buf, size_t len) {
  std::lock_guard lock(ctrl->mutex);
  const auto& id = ctrl->controller->id();
  nvmf::capi::copy_out(nvmf::capi::trimmed(id.subnqn, sizeof id.subnqn), buf, len);
}

int nvmf_ctrl_identify(nvmf_ctrl* ctrl, void* buf4096) {
  if (!ctrl || !buf4096) return -EINVAL;
  std::lock_guard lock(ctrl->mutex);
  std::memcpy(buf4096, &ctrl->controller->id(), sizeof(nvme_id_ctrl));
  return 0;
}

int nvmf_ctrl_reauthenticate(nvmf_ctrl* ctrl) {
  if (!ctrl) return -EINVAL;
  return ctrl->run_admin([ctrl] { return nvmf::capi::to_int(ctrl->controller->reauthenticate()); });
}

int nvmf_ctrl_refresh_namespaces(nvmf_ctrl* ctrl) {
  if (!ctrl) return -EINVAL;
  return ctrl->run_admin([ctrl] {
    int rc = nvmf::capi::to_int(ctrl->controller->refresh_namespaces());
    if (rc == 0) ctrl->sync_namespaces();
    return rc;
  });
}

uint32_t nvmf_ctrl_first_nsid(nvmf_ctrl* ctrl) { return nvmf_ctrl_next_nsid(ctrl, 0); }

uint32_t nvmf_ctrl_next_nsid(nvmf_ctrl* ctrl, uint32_t prev) {
  if (!ctrl) return 0;
  std::lock_guard lock(ctrl->mutex);
  for (auto it = ctrl->namespaces.upper_bound(prev); it != ctrl->namespaces.end(); ++it)
    if (it->second->active.load()) return it->first;
  return 0;
}

nvmf_ns* nvmf_ctrl_get_ns(nvmf_ctrl* ctrl, uint32_t nsid) {
  if (!ctrl) return nullptr;
  std::lock_guard lock(ctrl->mutex);
  auto it = ctrl->namespaces.find(nsid);
  return it == ctrl->namespaces.end() ? nullptr : it->second.get();
}

uint32_t nvmf_ns_get_id(const nvmf_ns* ns) { return ns->nsid.load(); }
uint32_t nvmf_ns_get_block_size(const nvmf_ns* ns) { return ns->block_size.load(); }
uint64_t nvmf_ns_get_num_blocks(const nvmf_ns* ns) { return ns->capacity_blocks.load(); }
uint64_t nvmf_ns_get_size(const nvmf_ns* ns) { return ns->capacity_blocks.load() * ns->block_size.load(); }
uint32_t nvmf_ns_get_max_transfer_blocks(const nvmf_ns* ns) { return ns->max_transfer_blocks.load(); }
bool nvmf_ns_is_active(const nvmf_ns* ns) { return ns->active.load(); }

const char* nvmf_strerror(int status) {
  if (status == 0) return "Success";
  if (status < 0) {
    const char* text = strerrordesc_np(-status);  // static text, unlike strerror's buffer
    return text ? text : "Unknown error";
  }
  // Statuses reaching the application come from I/O and admin commands (Connect failures arrive as errbuf text).
  return nvme_status_to_string(status, false);
}

}  // extern "C"
