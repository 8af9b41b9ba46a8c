// One namespace served as /dev/nbdN where the kernel has no ublk: one socket pair per queue, our ends served by
// NbdConnection on a thread of their own (reactor, initiator I/O queue), the kernel's ends given to the nbd
// driver with NBD_CMD_CONNECT over netlink. Flush, FUA and trim are offered as the controller supports them.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "initiator/attach/nbd_netlink.hpp"
#include "initiator/controller.hpp"

namespace nvmf::initiator::nbd {

class NbdDevice {
 public:
  static std::unique_ptr<NbdDevice> create(Netlink& netlink, Controller& controller, std::uint32_t nsid,
                                           std::uint16_t queues, std::uint16_t depth, std::uint32_t max_io_bytes,
                                           std::string* error);
  ~NbdDevice();
  NbdDevice(const NbdDevice&) = delete;
  NbdDevice& operator=(const NbdDevice&) = delete;

  std::uint32_t index() const { return index_; }
  std::string block_path() const { return "/dev/nbd" + std::to_string(index_); }
  /// False once the kernel has dropped a connection (`nvmf detach`, NBD_CMD_DISC).
  bool live() const;
  /// DISCONNECT, then the connection threads end. Idempotent.
  void stop();

 private:
  struct ConnectionThread {
    std::thread thread;
    std::atomic<bool> stop{false};
    std::atomic<bool> ended{false};
  };
  explicit NbdDevice(Netlink& netlink) : netlink_(netlink) {}
  void end_connections();

  Netlink& netlink_;
  std::uint32_t index_ = 0;
  bool connected_ = false;
  bool stopped_ = false;
  std::vector<std::unique_ptr<ConnectionThread>> threads_;
  std::vector<int> our_fds_;
};

}  // namespace nvmf::initiator::nbd
