// /dev/ublk-control: the ublk driver's control commands (ADD_DEV, SET_PARAMS, START_DEV, STOP_DEV, DEL_DEV,
// GET_FEATURES, GET_DEV_INFO, user recovery), each an IORING_OP_URING_CMD on a small ring of its own with 128-byte
// SQEs (the driver refuses control commands from a 64-byte SQE). Control path only: one command at a time, each
// waited for with a bound so that a stuck driver gives an error, not a hang.
#pragma once
#include <liburing.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "initiator/attach/ublk_uapi.hpp"

namespace nvmf::initiator::ublk {

inline constexpr const char* kDefaultControlPath = "/dev/ublk-control";

class ControlDevice {
 public:
  /// Open `path` (kDefaultControlPath unless NVMF_UBLK_CONTROL names another, for tests) and learn which opcodes
  /// the driver takes. nullptr and *error saying why: no ublk driver, no privilege, not a ublk device.
  static std::unique_ptr<ControlDevice> open(std::string* error, std::string path = {});
  /// The control node exists (the driver is loaded): false means "no ublk here", any other failure of open()
  /// is a real error.
  static bool present(std::string path = {});
  ~ControlDevice();
  ControlDevice(const ControlDevice&) = delete;
  ControlDevice& operator=(const ControlDevice&) = delete;

  /// ADD_DEV: `info` in (queues, depth, buffer size, flags; dev_id UINT32_MAX for any), the driver's view out.
  int add_device(CtrlDevInfo& info);
  int set_params(std::uint32_t dev_id, const Params& params);
  /// START_DEV: returns once every queue has fetched its requests and the disk exists.
  int start_device(std::uint32_t dev_id, int server_pid);
  int stop_device(std::uint32_t dev_id);
  int delete_device(std::uint32_t dev_id);
  int get_info(std::uint32_t dev_id, CtrlDevInfo& info);
  /// GET_PARAMS: `params.len` says how much the caller has room for.
  int get_params(std::uint32_t dev_id, Params& params);
  int start_user_recovery(std::uint32_t dev_id);
  int end_user_recovery(std::uint32_t dev_id, int server_pid);

  /// GET_FEATURES' answer (0 on kernels before 6.5, which lack the command).
  std::uint64_t features() const { return features_; }
  /// The driver takes ioctl-encoded opcodes (6.5+); the I/O commands on /dev/ublkcN must match.
  bool ioctl_encoded() const { return ioctl_encoded_; }
  const std::string& path() const { return path_; }

  /// A sentence for a failed command: what it was, the errno text, and the likely cause.
  static std::string explain(const char* what, int negative_errno);

 private:
  ControlDevice(int fd, std::string path);
  int submit(std::uint32_t nr, bool read_only, const CtrlCmd& cmd, std::chrono::seconds limit);

  int fd_ = -1;
  std::string path_;
  io_uring ring_{};
  bool ring_ready_ = false;
  std::uint64_t features_ = 0;
  bool ioctl_encoded_ = true;
};

}  // namespace nvmf::initiator::ublk
