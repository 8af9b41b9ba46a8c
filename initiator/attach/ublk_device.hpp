// One namespace served as /dev/ublkbN: ADD_DEV, SET_PARAMS from Identify, one thread per queue (its own reactor,
// initiator I/O queue and ublk queue), START_DEV; and the way down: STOP_DEV, the queue threads end, the char
// device is closed, DEL_DEV. The controller (admin queue, keep-alive, reconnect) stays with the caller's thread.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "initiator/attach/ublk_control.hpp"
#include "initiator/attach/ublk_queue.hpp"
#include "initiator/controller.hpp"
#include "initiator/namespace.hpp"

namespace nvmf::initiator::ublk {

struct AttachOptions {
  std::uint16_t queues = 1;
  std::uint16_t queue_depth = 64;
  std::uint32_t max_io_bytes = 512 * 1024;  ///< Buffer per tag, caps the largest request
};

class UblkDevice {
 public:
  /// Make and start the device. nullptr and *error (naming the step) when it cannot be made.
  static std::unique_ptr<UblkDevice> create(ControlDevice& control, Controller& controller, std::uint32_t nsid,
                                            const AttachOptions& options, std::string* error);
  /// Resume device `dev_id` whose serving process died (ublk user recovery, made with it by create()): its
  /// queues, depth and buffer size come from the driver, and the namespace must match the device's block size
  /// and capacity. On failure the device is left as it was (quiesced), for another try or `nvmf detach`.
  static std::unique_ptr<UblkDevice> recover(ControlDevice& control, Controller& controller, std::uint32_t dev_id,
                                             std::uint32_t nsid, std::string* error);
  /// stop() if not done.
  ~UblkDevice();
  UblkDevice(const UblkDevice&) = delete;
  UblkDevice& operator=(const UblkDevice&) = delete;

  std::uint32_t id() const { return dev_id_; }
  std::string block_path() const { return "/dev/ublkb" + std::to_string(dev_id_); }
  /// The device is still live in the driver (false once someone, e.g. `nvmf detach`, stopped or deleted it,
  /// or every queue has ended).
  bool live();
  /// Remove the device: STOP_DEV, end the queue threads, close the char device, DEL_DEV. Idempotent.
  void stop();

 private:
  /// One queue's thread: its reactor, the initiator I/O queue and the ublk queue on it.
  struct QueueThread {
    std::thread thread;
    std::atomic<bool> stop{false};
    std::atomic<bool> ended{false};
  };
  UblkDevice(ControlDevice& control, std::uint32_t dev_id) : control_(control), dev_id_(dev_id) {}
  void end_queues();
  bool start_queues(Controller& controller, const Namespace& ns, std::uint16_t queues, const QueueConfig& base,
                    std::string* error);

  ControlDevice& control_;
  std::uint32_t dev_id_;
  int char_fd_ = -1;
  std::vector<std::unique_ptr<QueueThread>> queues_;
  bool stopped_ = false;
  bool owns_device_ = true;  ///< Stop and delete it on the way out (false while a recovery is not complete)
};

}  // namespace nvmf::initiator::ublk
