#include "initiator/attach/ublk_control.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace nvmf::initiator::ublk {

namespace {
constexpr std::uint32_t kAnyDevice = UINT32_MAX;
constexpr std::uint16_t kNoQueue = 0xffff;

CtrlCmd header(std::uint32_t dev_id) {
  CtrlCmd cmd{};
  cmd.dev_id = dev_id;
  cmd.queue_id = kNoQueue;
  return cmd;
}
}  // namespace

namespace {
std::string control_path(std::string path) {
  if (!path.empty()) return path;
  const char* env = std::getenv("NVMF_UBLK_CONTROL");
  return env && *env ? env : kDefaultControlPath;
}
}  // namespace

bool ControlDevice::present(std::string path) { return ::access(control_path(std::move(path)).c_str(), F_OK) == 0; }

std::unique_ptr<ControlDevice> ControlDevice::open(std::string* error, std::string path) {
  path = control_path(std::move(path));
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    if (e == ENOENT || e == ENXIO || e == ENODEV)
      *error = "ublk is not available: " + path + " does not exist (it needs Linux 6.0 or later with the ublk_drv "
               "module loaded: modprobe ublk_drv)";
    else if (e == EACCES || e == EPERM)
      *error = "no permission to open " + path + ": attaching a block device needs root (CAP_SYS_ADMIN)";
    else
      *error = "cannot open " + path + ": " + std::strerror(e);
    return nullptr;
  }
  std::unique_ptr<ControlDevice> dev(new ControlDevice(fd, path));
  int rc = io_uring_queue_init(4, &dev->ring_, IORING_SETUP_SQE128);
  if (rc < 0) {
    *error = std::string("io_uring with 128-byte SQEs (Linux 5.19+) is not available: ") + std::strerror(-rc);
    return nullptr;
  }
  dev->ring_ready_ = true;
  // GET_FEATURES exists only in the ioctl-encoded form (6.5+); a kernel refusing it has the legacy opcodes.
  CtrlCmd cmd = header(kAnyDevice);
  std::uint64_t features = 0;
  cmd.addr = reinterpret_cast<std::uintptr_t>(&features);
  cmd.len = sizeof features;
  rc = dev->submit(kCmdGetFeatures, true, cmd, std::chrono::seconds(5));
  if (rc >= 0) {
    // Every driver that knows GET_FEATURES reports CMD_IOCTL_ENCODE; an answer without it is not ublk's.
    if (!(features & kFlagCmdIoctlEncode)) {
      *error = path + " is not a ublk control device: its answer to GET_FEATURES lacks the ublk feature bits";
      return nullptr;
    }
    dev->features_ = features;
    dev->ioctl_encoded_ = true;
  } else if (rc == -EOPNOTSUPP || rc == -EINVAL || rc == -ENOTTY) {
    // 6.0-6.4: legacy opcodes only. Such a driver answers a legacy GET_DEV_INFO for a device that does not
    // exist with ENODEV; anything else refusing both is not a ublk driver at all.
    dev->ioctl_encoded_ = false;
    CtrlDevInfo info{};
    CtrlCmd probe = header(kAnyDevice - 1);
    probe.addr = reinterpret_cast<std::uintptr_t>(&info);
    probe.len = sizeof info;
    int legacy = dev->submit(kCmdGetDevInfo, true, probe, std::chrono::seconds(5));
    if (legacy == -EOPNOTSUPP || legacy == -ENOTTY) {
      *error = path + " is not a ublk control device: it refuses ublk's commands (" + std::strerror(-legacy) + ")";
      return nullptr;
    }
  } else {
    *error = explain("GET_FEATURES", rc);
    return nullptr;
  }
  return dev;
}

ControlDevice::ControlDevice(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}

ControlDevice::~ControlDevice() {
  if (ring_ready_) io_uring_queue_exit(&ring_);
  if (fd_ >= 0) ::close(fd_);
}

int ControlDevice::submit(std::uint32_t nr, bool read_only, const CtrlCmd& cmd, std::chrono::seconds limit) {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (!sqe) return -EBUSY;
  std::memset(sqe, 0, 2 * sizeof(io_uring_sqe));  // SQE128: the command area runs into the second half
  sqe->opcode = IORING_OP_URING_CMD;
  sqe->fd = fd_;
  sqe->cmd_op = ioctl_encoded_ ? ctrl_op(nr, read_only) : nr;
  std::memcpy(sqe->cmd, &cmd, sizeof cmd);
  int rc = io_uring_submit(&ring_);
  if (rc < 0) return rc;
  io_uring_cqe* cqe = nullptr;
  __kernel_timespec ts{};
  ts.tv_sec = limit.count();
  rc = io_uring_wait_cqe_timeout(&ring_, &cqe, &ts);
  if (rc == -ETIME) return -ETIMEDOUT;
  if (rc < 0) return rc;
  int res = cqe->res;
  io_uring_cqe_seen(&ring_, cqe);
  return res;
}

int ControlDevice::add_device(CtrlDevInfo& info) {
  CtrlCmd cmd = header(info.dev_id);
  cmd.addr = reinterpret_cast<std::uintptr_t>(&info);
  cmd.len = sizeof info;
  return submit(kCmdAddDev, false, cmd, std::chrono::seconds(10));
}

int ControlDevice::set_params(std::uint32_t dev_id, const Params& params) {
  CtrlCmd cmd = header(dev_id);
  cmd.addr = reinterpret_cast<std::uintptr_t>(&params);
  cmd.len = static_cast<std::uint16_t>(params.len);
  return submit(kCmdSetParams, false, cmd, std::chrono::seconds(10));
}

int ControlDevice::start_device(std::uint32_t dev_id, int server_pid) {
  CtrlCmd cmd = header(dev_id);
  cmd.data[0] = static_cast<std::uint64_t>(server_pid);
  // The driver waits for every queue's FETCH_REQs, then adds the disk (which reads its partition table).
  return submit(kCmdStartDev, false, cmd, std::chrono::seconds(30));
}

int ControlDevice::stop_device(std::uint32_t dev_id) {
  return submit(kCmdStopDev, false, header(dev_id), std::chrono::seconds(30));
}

int ControlDevice::delete_device(std::uint32_t dev_id) {
  // The driver waits until the server has closed /dev/ublkcN.
  return submit(kCmdDelDev, false, header(dev_id), std::chrono::seconds(30));
}

int ControlDevice::get_info(std::uint32_t dev_id, CtrlDevInfo& info) {
  CtrlCmd cmd = header(dev_id);
  cmd.addr = reinterpret_cast<std::uintptr_t>(&info);
  cmd.len = sizeof info;
  return submit(kCmdGetDevInfo, true, cmd, std::chrono::seconds(10));
}

int ControlDevice::get_params(std::uint32_t dev_id, Params& params) {
  CtrlCmd cmd = header(dev_id);
  cmd.addr = reinterpret_cast<std::uintptr_t>(&params);
  cmd.len = static_cast<std::uint16_t>(params.len);
  return submit(kCmdGetParams, true, cmd, std::chrono::seconds(10));
}

int ControlDevice::start_user_recovery(std::uint32_t dev_id) {
  return submit(kCmdStartUserRecovery, false, header(dev_id), std::chrono::seconds(30));
}

int ControlDevice::end_user_recovery(std::uint32_t dev_id, int server_pid) {
  CtrlCmd cmd = header(dev_id);
  cmd.data[0] = static_cast<std::uint64_t>(server_pid);
  return submit(kCmdEndUserRecovery, false, cmd, std::chrono::seconds(30));
}

std::string ControlDevice::explain(const char* what, int negative_errno) {
  int e = -negative_errno;
  std::string text = std::string("ublk ") + what + " failed: " + std::strerror(e);
  switch (e) {
    case EPERM:
    case EACCES:
      return text + " (creating a ublk device needs root, CAP_SYS_ADMIN)";
    case EOPNOTSUPP:
    case ENOTTY:
      return text + " (not a ublk control device, or a ublk driver without this command)";
    case ETIMEDOUT:
      return text + " (the driver did not answer within the time limit)";
    case ENODEV:
      return text + " (no such ublk device)";
    case EBUSY:
      return text + " (the device is busy: its server still runs, or the kernel has not quiesced it yet)";
    default:
      return text;
  }
}

}  // namespace nvmf::initiator::ublk
