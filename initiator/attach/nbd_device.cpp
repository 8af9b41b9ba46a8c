#include "initiator/attach/nbd_device.hpp"

#include <linux/nbd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <future>

#include "fabric/reactor.hpp"
#include "initiator/attach/device_params.hpp"
#include "initiator/attach/nbd_connection.hpp"

namespace nvmf::initiator::nbd {

std::unique_ptr<NbdDevice> NbdDevice::create(Netlink& netlink, Controller& controller, std::uint32_t nsid,
                                             std::uint16_t queues, std::uint16_t depth, std::uint32_t max_io_bytes,
                                             std::string* error) {
  const Namespace* found = controller.find_namespace(nsid);
  if (!found) {
    *error = "namespace " + std::to_string(nsid) + " is not active on the controller";
    return nullptr;
  }
  const Namespace ns = *found;
  if (queues == 0 || queues > controller.io_queues_granted()) {
    *error = std::to_string(queues) + " queues asked, the controller granted " +
             std::to_string(controller.io_queues_granted());
    return nullptr;
  }
  depth = std::min<std::uint16_t>(depth, static_cast<std::uint16_t>(controller.max_io_queue_size() - 1));
  const std::uint32_t buffer_bytes = ublk::io_buffer_bytes(ns, max_io_bytes);

  std::unique_ptr<NbdDevice> dev(new NbdDevice(netlink));
  ConnectRequest request;
  request.size_bytes = ns.size_bytes();
  request.block_size = ns.block_size;
  request.server_flags = NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH;
  if (controller.id().vwc & NVME_CTRL_VWC_PRESENT) request.server_flags |= NBD_FLAG_SEND_FUA;
  if (le16toh(controller.id().oncs) & NVME_CTRL_ONCS_DSM) request.server_flags |= NBD_FLAG_SEND_TRIM;
  if (queues > 1) request.server_flags |= NBD_FLAG_CAN_MULTI_CONN;

  std::vector<int> kernel_fds;
  for (std::uint16_t q = 0; q < queues; ++q) {
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0) {
      *error = std::string("socketpair: ") + std::strerror(errno);
      for (int fd : kernel_fds) close(fd);
      return nullptr;
    }
    dev->our_fds_.push_back(pair[0]);
    kernel_fds.push_back(pair[1]);
    auto t = std::make_unique<ConnectionThread>();
    std::promise<std::string> ready;
    std::future<std::string> started = ready.get_future();
    ConnectionThread* self = t.get();
    const int fd = pair[0];
    t->thread = std::thread([&controller, ns, fd, depth, buffer_bytes, q, self, ready = std::move(ready)]() mutable {
      fabric::Reactor reactor(q);
      Error err;
      auto io = controller.create_io_queue(reactor, &err, static_cast<std::uint16_t>(depth + 1));
      if (!io) {
        ready.set_value("I/O queue " + std::to_string(q) + ": " + err.to_string());
        self->ended = true;
        return;
      }
      NbdConnection conn(*io, ns, fd, depth, buffer_bytes);
      std::string why;
      if (!conn.start(&why)) {
        ready.set_value(why);
        self->ended = true;
        return;
      }
      ready.set_value({});
      while (!conn.finished() && !self->stop.load(std::memory_order_acquire)) conn.poll(std::chrono::milliseconds(100));
      conn.close();
      io.reset();
      self->ended = true;
    });
    std::string why = started.get();
    dev->threads_.push_back(std::move(t));
    if (!why.empty()) {
      *error = why;
      for (int fd : kernel_fds) close(fd);
      return nullptr;
    }
  }
  request.socket_fds = kernel_fds;
  int index = netlink.connect(request, error);
  for (int fd : kernel_fds) close(fd);  // the driver holds its own references
  if (index < 0) return nullptr;
  dev->index_ = static_cast<std::uint32_t>(index);
  dev->connected_ = true;
  // The driver's largest request is far above a queue entry's buffer: bring it down to it (the block layer
  // splits larger requests).
  std::ofstream limit("/sys/block/nbd" + std::to_string(index) + "/queue/max_sectors_kb");
  limit << buffer_bytes / 1024 << "\n";
  limit.close();
  if (!limit) {
    *error = "cannot limit /dev/nbd" + std::to_string(index) + "'s request size to " +
             std::to_string(buffer_bytes / 1024) + " KiB";
    return nullptr;
  }
  return dev;
}

NbdDevice::~NbdDevice() { stop(); }

bool NbdDevice::live() const {
  if (stopped_) return false;
  for (const auto& t : threads_)
    if (t->ended) return false;
  return true;
}

void NbdDevice::end_connections() {
  for (auto& t : threads_) t->stop = true;
  for (auto& t : threads_)
    if (t->thread.joinable()) t->thread.join();
  threads_.clear();
  for (int fd : our_fds_) close(fd);
  our_fds_.clear();
}

void NbdDevice::stop() {
  if (stopped_) return;
  stopped_ = true;
  std::string ignored;
  // DISCONNECT: the driver sends NBD_CMD_DISC after the requests in flight, then shuts its sockets.
  if (connected_) netlink_.disconnect(index_, &ignored);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline &&
         std::any_of(threads_.begin(), threads_.end(), [](const auto& t) { return !t->ended; }))
    usleep(20000);
  end_connections();
}

}  // namespace nvmf::initiator::nbd
