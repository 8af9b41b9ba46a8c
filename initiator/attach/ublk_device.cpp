#include "initiator/attach/ublk_device.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstring>
#include <future>

#include "fabric/reactor.hpp"
#include "initiator/attach/device_params.hpp"
#include "initiator/attach/ublk_queue.hpp"

namespace nvmf::initiator::ublk {

namespace {
/// The char device appears once ADD_DEV returns (devtmpfs) or a moment later (udev): wait a bounded time.
int open_char_device(const std::string& path, std::string* error) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (;;) {
    int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd >= 0) return fd;
    if (errno != ENOENT || std::chrono::steady_clock::now() > deadline) {
      *error = "cannot open " + path + ": " + std::strerror(errno);
      return -1;
    }
    usleep(10000);
  }
}
}  // namespace

std::unique_ptr<UblkDevice> UblkDevice::create(ControlDevice& control, Controller& controller, std::uint32_t nsid,
                                               const AttachOptions& options, std::string* error) {
  const Namespace* found = controller.find_namespace(nsid);
  if (!found) {
    *error = "namespace " + std::to_string(nsid) + " is not active on the controller";
    return nullptr;
  }
  const Namespace ns = *found;  // a copy: the controller's list may be refreshed from its own thread
  auto id_ns = std::make_unique<nvme_id_ns>();
  nvme::Status st = controller.identify_namespace(nsid, id_ns.get());
  if (!st.ok()) {
    *error = "Identify Namespace " + std::to_string(nsid) + ": " + st.to_string();
    return nullptr;
  }
  if (options.queues == 0 || options.queues > controller.io_queues_granted()) {
    *error = std::to_string(options.queues) + " queues asked, the controller granted " +
             std::to_string(controller.io_queues_granted());
    return nullptr;
  }
  const std::uint16_t max_depth = static_cast<std::uint16_t>(controller.max_io_queue_size() - 1);
  const std::uint16_t depth = std::min<std::uint16_t>({options.queue_depth, max_depth,
                                                       static_cast<std::uint16_t>(kMaxQueueDepth)});
  if (depth == 0) {
    *error = "queue depth 0";
    return nullptr;
  }
  const std::uint32_t buffer_bytes = io_buffer_bytes(ns, options.max_io_bytes);
  Params params{};
  if (!device_params(ns, *id_ns, controller.id(), buffer_bytes, &params, error)) return nullptr;

  CtrlDevInfo info{};
  info.nr_hw_queues = options.queues;
  info.queue_depth = depth;
  info.max_io_buf_bytes = buffer_bytes;
  info.dev_id = UINT32_MAX;
  info.ublksrv_pid = getpid();
  // User recovery: if this process dies the device stays, its I/O waits, and `nvmf attach --recover` resumes it;
  // REISSUE resends what the dead process had taken (NVMe reads and writes may be repeated).
  info.flags = kFlagUserRecovery | kFlagUserRecoveryReissue;
  int rc = control.add_device(info);
  if (rc < 0) {
    *error = ControlDevice::explain("ADD_DEV", rc);
    return nullptr;
  }
  std::unique_ptr<UblkDevice> dev(new UblkDevice(control, info.dev_id));
  const std::string char_path = "/dev/ublkc" + std::to_string(info.dev_id);
  dev->char_fd_ = open_char_device(char_path, error);
  if (dev->char_fd_ < 0) return nullptr;  // the destructor deletes the device
  rc = control.set_params(info.dev_id, params);
  if (rc < 0) {
    *error = ControlDevice::explain("SET_PARAMS", rc);
    return nullptr;
  }

  QueueConfig config{dev->char_fd_, 0, depth, buffer_bytes, control.ioctl_encoded()};
  if (!dev->start_queues(controller, ns, options.queues, config, error)) return nullptr;
  rc = control.start_device(info.dev_id, getpid());
  if (rc < 0) {
    *error = ControlDevice::explain("START_DEV", rc);
    return nullptr;
  }
  return dev;
}

bool UblkDevice::start_queues(Controller& controller, const Namespace& ns, std::uint16_t queues,
                              const QueueConfig& base, std::string* error) {
  for (std::uint16_t q = 0; q < queues; ++q) {
    auto qt = std::make_unique<QueueThread>();
    std::promise<std::string> ready;
    std::future<std::string> started = ready.get_future();
    QueueConfig config = base;
    config.q_id = q;
    QueueThread* self = qt.get();
    qt->thread = std::thread([&controller, ns, config, self, ready = std::move(ready)]() mutable {
      fabric::Reactor reactor(config.q_id);
      Error err;
      // One more entry than tags: a re-authentication keeps one for itself (IoQueue::reauthenticate).
      auto io = controller.create_io_queue(reactor, &err, static_cast<std::uint16_t>(config.depth + 1));
      if (!io) {
        ready.set_value("I/O queue " + std::to_string(config.q_id) + ": " + err.to_string());
        self->ended = true;
        return;
      }
      UblkQueue queue(*io, ns, config);
      std::string why;
      if (!queue.start(&why)) {
        ready.set_value(why);
        self->ended = true;
        return;
      }
      ready.set_value({});
      while (!queue.finished() && !self->stop.load(std::memory_order_acquire))
        queue.poll(std::chrono::milliseconds(100));
      queue.close();
      io.reset();
      // Leaving drops the reactor's ring, which cancels whatever FETCH_REQ the driver still holds.
      self->ended = true;
    });
    std::string why = started.get();
    queues_.push_back(std::move(qt));
    if (!why.empty()) {
      *error = why;
      return false;
    }
  }
  return true;
}

std::unique_ptr<UblkDevice> UblkDevice::recover(ControlDevice& control, Controller& controller,
                                                std::uint32_t dev_id, std::uint32_t nsid, std::string* error) {
  CtrlDevInfo info{};
  int rc = control.get_info(dev_id, info);
  if (rc < 0) {
    *error = ControlDevice::explain("GET_DEV_INFO", rc);
    return nullptr;
  }
  if (!(info.flags & kFlagUserRecovery)) {
    *error = "/dev/ublkb" + std::to_string(dev_id) + " was made without user recovery: it cannot be resumed";
    return nullptr;
  }
  const Namespace* found = controller.find_namespace(nsid);
  if (!found) {
    *error = "namespace " + std::to_string(nsid) + " is not active on the controller";
    return nullptr;
  }
  const Namespace ns = *found;
  Params params{};
  params.len = offsetof(Params, devt);
  rc = control.get_params(dev_id, params);
  if (rc < 0) {
    *error = ControlDevice::explain("GET_PARAMS", rc);
    return nullptr;
  }
  const std::uint64_t capacity_sectors = ns.capacity_blocks * (ns.block_size / 512);
  if ((1u << params.basic.logical_bs_shift) != ns.block_size || params.basic.dev_sectors != capacity_sectors) {
    *error = "namespace " + std::to_string(nsid) + " (" + std::to_string(ns.block_size) + "-byte blocks, " +
             std::to_string(capacity_sectors) + " sectors) is not the one /dev/ublkb" + std::to_string(dev_id) +
             " served (" + std::to_string(1u << params.basic.logical_bs_shift) + "-byte blocks, " +
             std::to_string(params.basic.dev_sectors) + " sectors)";
    return nullptr;
  }
  if (info.nr_hw_queues > controller.io_queues_granted() || info.queue_depth + 1 > controller.max_io_queue_size()) {
    *error = "the device has " + std::to_string(info.nr_hw_queues) + " queues of depth " +
             std::to_string(info.queue_depth) + "; the controller granted " +
             std::to_string(controller.io_queues_granted()) + " of at most " +
             std::to_string(controller.max_io_queue_size()) + " entries (use the -i and -Q of the first attach)";
    return nullptr;
  }
  // The kernel quiesces the device once it has seen the old server's queues go: give a dying process a moment.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while ((rc = control.start_user_recovery(dev_id)) == -EBUSY && std::chrono::steady_clock::now() < deadline)
    usleep(100000);
  if (rc < 0) {
    *error = ControlDevice::explain("START_USER_RECOVERY", rc);
    return nullptr;
  }
  std::unique_ptr<UblkDevice> dev(new UblkDevice(control, dev_id));
  dev->owns_device_ = false;
  dev->char_fd_ = open_char_device("/dev/ublkc" + std::to_string(dev_id), error);
  if (dev->char_fd_ < 0) return nullptr;
  QueueConfig config{dev->char_fd_, 0, info.queue_depth, info.max_io_buf_bytes, control.ioctl_encoded()};
  if (!dev->start_queues(controller, ns, info.nr_hw_queues, config, error)) return nullptr;
  rc = control.end_user_recovery(dev_id, getpid());
  if (rc < 0) {
    *error = ControlDevice::explain("END_USER_RECOVERY", rc);
    return nullptr;
  }
  dev->owns_device_ = true;
  return dev;
}

UblkDevice::~UblkDevice() { stop(); }

bool UblkDevice::live() {
  if (stopped_) return false;
  for (auto& q : queues_)
    if (q->ended) return false;
  CtrlDevInfo info{};
  int rc = control_.get_info(dev_id_, info);
  return rc >= 0 && info.state == kStateLive;
}

void UblkDevice::end_queues() {
  for (auto& q : queues_) q->stop = true;
  for (auto& q : queues_)
    if (q->thread.joinable()) q->thread.join();
  queues_.clear();
}

void UblkDevice::stop() {
  if (stopped_) return;
  stopped_ = true;
  // STOP_DEV removes the disk (the kernel flushes it through the queues first), then the queues can go.
  if (owns_device_) control_.stop_device(dev_id_);
  end_queues();
  if (char_fd_ >= 0) ::close(char_fd_);
  char_fd_ = -1;
  // DEL_DEV waits for the char device to be released; after a `nvmf detach` it may already be gone (ENODEV).
  if (owns_device_) control_.delete_device(dev_id_);
}

}  // namespace nvmf::initiator::ublk

