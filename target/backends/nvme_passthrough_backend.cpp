#include "target/backends/nvme_passthrough_backend.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "fabric/log.hpp"
#include "fabric/reactor.hpp"
#include "nvme/libnvme.hpp"
#include "nvme/status.hpp"

namespace nvmf::target {

namespace {
constexpr unsigned kRingEntries = 256;           // SQEs per reactor; the CQ is twice that (and NODROP beyond)
constexpr std::uint32_t kFuaBit = 1u << 30;       // CDW12 bit 30 (Write, Write Zeroes)
constexpr std::uint32_t kDeacBit = 1u << 25;      // CDW12 bit 25 (Write Zeroes: deallocate allowed)
constexpr std::uint64_t kMaxBlocksPerCommand = 1u << 16;  // NLB is 16 bits, 0's based

// BackendIo::kind for this backend: a forwarded command completes as is; the byte-range operations may take
// several commands (io.offset / io.remaining carry the progress).
enum Kind : std::uint8_t { kForward, kRangeRead, kRangeWrite, kRangeZeroes, kRangeDeallocate, kFlushOnly };

std::runtime_error device_error(const std::string& path, const std::string& what, int err = 0) {
  std::string msg = "NVMe namespace '" + path + "': " + what;
  if (err) msg += std::string(": ") + std::strerror(err);
  return std::runtime_error(msg);
}

/// A blocking admin command through the namespace's character device. Returns 0, -errno or the NVMe status.
int admin_command(int fd, std::uint8_t opcode, std::uint32_t nsid, std::uint32_t cdw10, void* data,
                  std::uint32_t length) {
  nvme_passthru_cmd cmd{};
  cmd.opcode = opcode;
  cmd.nsid = nsid;
  cmd.addr = reinterpret_cast<std::uintptr_t>(data);
  cmd.data_len = length;
  cmd.cdw10 = cdw10;
  int rc = ioctl(fd, NVME_IOCTL_ADMIN_CMD, &cmd);
  return rc < 0 ? -errno : rc;
}

std::uint32_t read_sysfs_u32(const std::string& file) {
  std::ifstream in(file);
  std::uint64_t v = 0;
  return (in >> v) ? static_cast<std::uint32_t>(std::min<std::uint64_t>(v, UINT32_MAX)) : 0;
}

std::string describe_result(int res) {
  if (res < 0) return std::strerror(-res);
  return nvme::Status(static_cast<std::uint16_t>(res)).to_string(false);
}
}  // namespace

nvme_uring_cmd make_passthrough_command(const nvme::Sqe& sqe, std::uint32_t drive_nsid, const std::byte* data,
                                        std::uint32_t length, bool fua) {
  nvme_uring_cmd cmd{};
  cmd.opcode = sqe.opcode;
  cmd.flags = 0;  // the kernel refuses anything else (it chooses PRP or SGL for its own queue)
  cmd.nsid = drive_nsid;
  cmd.cdw2 = sqe.cdw2;
  cmd.cdw3 = sqe.cdw3;
  cmd.addr = reinterpret_cast<std::uintptr_t>(data);
  cmd.data_len = data ? length : 0;
  cmd.cdw10 = sqe.cdw10;
  cmd.cdw11 = sqe.cdw11;
  cmd.cdw12 = sqe.cdw12 | (fua && sqe.opcode == nvme_cmd_write ? kFuaBit : 0);
  cmd.cdw13 = sqe.cdw13;
  cmd.cdw14 = sqe.cdw14;
  cmd.cdw15 = sqe.cdw15;
  cmd.timeout_ms = 0;  // the kernel's I/O timeout
  return cmd;
}

// One reactor's passthrough ring. The reactor's own ring polls this ring's fd while commands are in flight.
class NvmePassthroughBackend::Ring {
 public:
  explicit Ring(int& setup_error) {
    setup_error = io_uring_queue_init(kRingEntries, &ring_, IORING_SETUP_SQE128 | IORING_SETUP_CQE32);
    ready_ = setup_error == 0;
  }
  ~Ring() {
    if (ready_) io_uring_queue_exit(&ring_);
  }
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  /// Queues and submits one command; completes `io` with -errno when the ring cannot take it.
  void submit(fabric::Reactor& reactor, BackendIo& io, const nvme_uring_cmd& cmd, int fd) {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (!sqe) {
      io_uring_submit(&ring_);
      sqe = io_uring_get_sqe(&ring_);
    }
    if (!sqe) return io.done(io, -EBUSY);
    std::memset(sqe, 0, 2 * sizeof(io_uring_sqe));  // SQE128: the command area runs into the second half
    sqe->opcode = IORING_OP_URING_CMD;
    sqe->fd = fd;
    sqe->cmd_op = NVME_URING_CMD_IO;
    sqe->user_data = reinterpret_cast<std::uintptr_t>(&io);
    static_assert(sizeof(nvme_uring_cmd) <= 80, "the command must fit the SQE128 command area");
    std::memcpy(sqe->cmd, &cmd, sizeof cmd);
    ++in_flight_;
    // Submitted now: a failure (-EBUSY with an overflowed CQ) leaves the SQE queued; the next reap resubmits.
    int rc = io_uring_submit(&ring_);
    if (rc < 0 && rc != -EBUSY && rc != -EAGAIN) NVMF_LOG(warn, "NVMe passthrough submit: %s", std::strerror(-rc));
    arm(reactor);
  }

 private:
  void arm(fabric::Reactor& reactor) {
    if (poll_armed_ || in_flight_ == 0) return;
    reactor_ = &reactor;
    poll_op_.handler = &Ring::on_poll;
    io_uring_prep_poll_add(reactor.sqe(poll_op_), ring_.ring_fd, POLLIN);
    poll_armed_ = true;
  }

  static void on_poll(fabric::IoOp& op, std::int32_t res, std::uint32_t) {
    auto& self = fabric::owner_of(&Ring::poll_op_, op);
    self.poll_armed_ = false;
    if (res < 0 && res != -EINTR && res != -ECANCELED) NVMF_LOG(warn, "NVMe passthrough poll: %s", std::strerror(-res));
    self.reap();
  }

  void reap() {
    fabric::Reactor& reactor = *reactor_;
    if (io_uring_sq_ready(&ring_) > 0) io_uring_submit(&ring_);
    io_uring_cqe* cqe = nullptr;
    // One at a time, marked seen before the callback: a callback may submit the next command on this ring.
    while (io_uring_peek_cqe(&ring_, &cqe) == 0 && cqe) {
      auto* io = reinterpret_cast<BackendIo*>(static_cast<std::uintptr_t>(cqe->user_data));
      const std::int32_t res = cqe->res;
      io_uring_cqe_seen(&ring_, cqe);
      --in_flight_;
      NvmePassthroughBackend::on_complete(*io, res);
    }
    // Armed only while something is in flight: an idle ring has nothing pending on the reactor.
    arm(reactor);
  }

  friend class NvmePassthroughBackend;
  io_uring ring_{};
  bool ready_ = false;
  fabric::IoOp poll_op_;
  fabric::Reactor* reactor_ = nullptr;
  bool poll_armed_ = false;
  unsigned in_flight_ = 0;
};

NvmePassthroughBackend::NvmePassthroughBackend(const std::string& path)
    : path_(path), identify_(std::make_unique<std::array<std::uint8_t, 4096>>()),
      slots_(std::make_unique<std::array<Slot, kSlots>>()) {
  fd_ = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd_ < 0) throw device_error(path, "cannot open for reading and writing", errno);
  try {
    struct stat st {};
    if (fstat(fd_, &st) != 0) throw device_error(path, "cannot stat", errno);
    if (!S_ISCHR(st.st_mode))
      throw device_error(path, "not a character device (nvme: takes the generic device /dev/ngXnY; use blk: for "
                               "/dev/nvmeXnY)");
    int nsid = ioctl(fd_, NVME_IOCTL_ID);
    if (nsid <= 0) throw device_error(path, "not an NVMe namespace (NVME_IOCTL_ID failed)", nsid < 0 ? errno : 0);
    drive_nsid_ = static_cast<std::uint32_t>(nsid);

    // Capacity and LBA format from the drive's Identify Namespace (CNS 00h).
    int rc = admin_command(fd_, nvme_admin_identify, drive_nsid_, NVME_IDENTIFY_CNS_NS, identify_->data(), 4096);
    if (rc != 0) throw device_error(path, "Identify Namespace failed: " + describe_result(rc));
    const auto& id = *reinterpret_cast<const nvme_id_ns*>(identify_->data());
    const unsigned format = (id.flbas & NVME_NS_FLBAS_LOWER_MASK) | ((id.flbas & NVME_NS_FLBAS_HIGHER_MASK) >> 1);
    if (format > id.nlbaf) throw device_error(path, "Identify Namespace names LBA format " + std::to_string(format));
    const nvme_lbaf& lbaf = id.lbaf[format];
    if (lbaf.ds < 9 || lbaf.ds > 16)
      throw device_error(path, "unsupported LBA data size 2^" + std::to_string(lbaf.ds));
    if (lbaf.ms != 0)
      throw device_error(path, "the LBA format carries " + std::to_string(lbaf.ms) +
                                   " bytes of metadata per block, which this target does not pass through");
    lba_shift_ = lbaf.ds;
    size_ = std::uint64_t(le64toh(id.nsze)) << lba_shift_;
    if (size_ == 0) throw device_error(path, "the namespace has no capacity");

    // The kernel refuses passthrough transfers above the queue's max_hw_sectors (-EINVAL).
    const std::string name = path.substr(path.rfind('/') + 1);
    if (name.rfind("ng", 0) == 0)
      max_transfer_ = read_sysfs_u32("/sys/block/nvme" + name.substr(2) + "/queue/max_hw_sectors_kb") * 1024;
    if (max_transfer_ == 0) {
      std::array<std::uint8_t, 4096> ctrl{};
      if (admin_command(fd_, nvme_admin_identify, 0, NVME_IDENTIFY_CNS_CTRL, ctrl.data(), 4096) == 0) {
        const std::uint8_t mdts = reinterpret_cast<const nvme_id_ctrl*>(ctrl.data())->mdts;
        max_transfer_ = mdts ? 4096u << std::min<unsigned>(mdts, 20) : 0;
      }
      if (max_transfer_ == 0) max_transfer_ = 128 * 1024;  // the smallest the kernel ever sets up
    }

    // The kernel and the device must both take a passthrough command: a one-block Read of LBA 0.
    io_uring_probe* probe = io_uring_get_probe();
    const bool has_cmd = probe && io_uring_opcode_supported(probe, IORING_OP_URING_CMD);
    if (probe) io_uring_free_probe(probe);
    if (!has_cmd) throw device_error(path, "this kernel has no io_uring NVMe passthrough (IORING_OP_URING_CMD, 5.19+)");
    io_uring ring{};
    rc = io_uring_queue_init(2, &ring, IORING_SETUP_SQE128 | IORING_SETUP_CQE32);
    if (rc < 0) throw device_error(path, "io_uring refuses 128-byte SQEs / 32-byte CQEs (needed for passthrough)", -rc);
    auto* block = static_cast<std::byte*>(std::aligned_alloc(4096, std::max<std::size_t>(4096, block_size())));
    nvme::Sqe read{};
    read.opcode = nvme_cmd_read;
    nvme_uring_cmd cmd = make_passthrough_command(read, drive_nsid_, block, block_size(), false);
    io_uring_sqe* sqe = io_uring_get_sqe(&ring);
    std::memset(sqe, 0, 2 * sizeof(io_uring_sqe));
    sqe->opcode = IORING_OP_URING_CMD;
    sqe->fd = fd_;
    sqe->cmd_op = NVME_URING_CMD_IO;
    std::memcpy(sqe->cmd, &cmd, sizeof cmd);
    io_uring_cqe* cqe = nullptr;
    rc = io_uring_submit_and_wait(&ring, 1);
    if (rc >= 0) rc = io_uring_wait_cqe(&ring, &cqe);
    if (rc >= 0) rc = cqe->res;
    io_uring_queue_exit(&ring);
    std::free(block);
    if (rc != 0) throw device_error(path, "a passthrough Read of LBA 0 failed: " + describe_result(rc));
  } catch (...) {
    ::close(fd_);
    throw;
  }
}

NvmePassthroughBackend::~NvmePassthroughBackend() {
  for (Slot& slot : *slots_) {
    if (!slot.ring) continue;
    // Namespaces go only when no command is in flight on them (IoQueue keeps retired tables until then).
    if (slot.ring->in_flight_ || slot.ring->poll_armed_)
      NVMF_LOG(error, "NVMe passthrough %s destroyed with %u commands in flight", path_.c_str(), slot.ring->in_flight_);
    delete slot.ring;
  }
  ::close(fd_);
}

std::string NvmePassthroughBackend::describe() const {
  return "nvme:" + path_ + " (io_uring passthrough, drive NSID " + std::to_string(drive_nsid_) + ", transfers up to " +
         std::to_string(max_transfer_ >> 10) + " KiB)";
}

bool NvmePassthroughBackend::deallocate_reads_zeroes() const {
  // DLFEAT bits 2:0 = 001b: deallocated blocks read as zeroes.
  return (reinterpret_cast<const nvme_id_ns*>(identify_->data())->dlfeat & 7) == 1;
}

const nvme_id_ns* NvmePassthroughBackend::identify_namespace() const {
  return reinterpret_cast<const nvme_id_ns*>(identify_->data());
}

NvmePassthroughBackend::Ring* NvmePassthroughBackend::ring_for(fabric::Reactor& reactor) {
  // Slots are claimed by a reactor once (compare-and-swap) and then touched only by that reactor's thread.
  for (std::size_t n = 0, i = reactor.index() % kSlots; n < kSlots; ++n, i = (i + 1) % kSlots) {
    Slot& slot = (*slots_)[i];
    fabric::Reactor* owner = slot.owner.load(std::memory_order_acquire);
    if (owner == nullptr && slot.owner.compare_exchange_strong(owner, &reactor, std::memory_order_acq_rel))
      owner = &reactor;
    if (owner != &reactor) continue;
    if (!slot.ring) {
      int err = 0;
      auto ring = std::make_unique<Ring>(err);
      if (err < 0) {
        NVMF_LOG(error, "NVMe passthrough %s: reactor %u cannot set up its ring: %s", path_.c_str(), reactor.index(),
                 std::strerror(-err));
        return nullptr;
      }
      slot.ring = ring.release();
    }
    return slot.ring;
  }
  NVMF_LOG(error, "NVMe passthrough %s: more than %zu reactors", path_.c_str(), kSlots);
  return nullptr;
}

void NvmePassthroughBackend::submit(fabric::Reactor& reactor, BackendIo& io, const nvme_uring_cmd& cmd) {
  Ring* ring = ring_for(reactor);
  if (!ring) return io.done(io, -ENOMEM);
  ring->submit(reactor, io, cmd, fd_);
}

void NvmePassthroughBackend::forward(fabric::Reactor& reactor, BackendIo& io, const nvme::Sqe& sqe, std::byte* data,
                                     std::uint32_t length, bool fua) {
  io.backend = this;
  io.reactor = &reactor;
  io.kind = kForward;
  // The kernel would refuse a larger buffer with -EINVAL; MDTS exceeded is Invalid Field (as SPDK and nvmet).
  if (length > max_transfer_) return io.done(io, nvme::Status::generic(NVME_SC_INVALID_FIELD).value());
  submit(reactor, io, make_passthrough_command(sqe, drive_nsid_, data, length, fua));
}

void NvmePassthroughBackend::on_complete(BackendIo& io, std::int32_t res) {
  auto& self = *static_cast<NvmePassthroughBackend*>(io.backend);
  // A forwarded command reports the drive's status unchanged; a range operation stops at the first failure.
  if (io.kind == kForward || io.kind == kFlushOnly || res != 0 || io.remaining == 0) return io.done(io, res);
  self.next_range_command(io);
}

void NvmePassthroughBackend::next_range_command(BackendIo& io) {
  const std::uint64_t block = block_size();
  std::uint64_t blocks = std::min<std::uint64_t>(io.remaining >> lba_shift_, kMaxBlocksPerCommand);
  if (io.kind == kRangeRead || io.kind == kRangeWrite) blocks = std::min<std::uint64_t>(blocks, max_transfer_ >> lba_shift_);
  const std::uint64_t slba = io.offset >> lba_shift_;
  nvme::Sqe sqe{};
  sqe.cdw10 = static_cast<std::uint32_t>(slba);
  sqe.cdw11 = static_cast<std::uint32_t>(slba >> 32);
  sqe.cdw12 = static_cast<std::uint32_t>(blocks - 1);
  std::byte* data = nullptr;
  switch (io.kind) {
    case kRangeRead: sqe.opcode = nvme_cmd_read; data = io.buffer; break;
    case kRangeWrite: sqe.opcode = nvme_cmd_write; data = io.buffer; break;
    case kRangeZeroes: sqe.opcode = nvme_cmd_write_zeroes; break;
    // Write Zeroes with DEAC: the drive may deallocate, and the range reads back as zeroes either way.
    case kRangeDeallocate: sqe.opcode = nvme_cmd_write_zeroes; sqe.cdw12 |= kDeacBit; break;
    default: return io.done(io, -EINVAL);
  }
  const std::uint32_t bytes = static_cast<std::uint32_t>(blocks * block);
  io.offset += bytes;
  io.remaining -= bytes;
  if (data) io.buffer += bytes;
  submit(*io.reactor, io, make_passthrough_command(sqe, drive_nsid_, data, data ? bytes : 0, io.fua));
}

void NvmePassthroughBackend::start_range(fabric::Reactor& reactor, BackendIo& io, std::uint8_t kind,
                                         std::uint64_t offset, std::uint64_t length, std::byte* data, bool fua) {
  io.backend = this;
  io.reactor = &reactor;
  io.kind = kind;
  io.offset = offset;
  io.remaining = length;
  io.buffer = data;
  io.fua = fua;
  const std::uint64_t mask = block_size() - 1;
  if ((offset & mask) || (length & mask) || length == 0) return io.done(io, -EINVAL);
  next_range_command(io);
}

void NvmePassthroughBackend::read(fabric::Reactor& reactor, BackendIo& io, std::uint64_t offset, std::byte* buffer,
                                  std::uint32_t length) {
  start_range(reactor, io, kRangeRead, offset, length, buffer, false);
}

void NvmePassthroughBackend::write(fabric::Reactor& reactor, BackendIo& io, std::uint64_t offset,
                                   const std::byte* buffer, std::uint32_t length, bool fua) {
  start_range(reactor, io, kRangeWrite, offset, length, const_cast<std::byte*>(buffer), fua);
}

void NvmePassthroughBackend::write_zeroes(fabric::Reactor& reactor, BackendIo& io, std::uint64_t offset,
                                          std::uint64_t length) {
  start_range(reactor, io, kRangeZeroes, offset, length, nullptr, false);
}

void NvmePassthroughBackend::deallocate(fabric::Reactor& reactor, BackendIo& io, std::uint64_t offset,
                                        std::uint64_t length) {
  start_range(reactor, io, kRangeDeallocate, offset, length, nullptr, false);
}

void NvmePassthroughBackend::flush(fabric::Reactor& reactor, BackendIo& io) {
  io.backend = this;
  io.reactor = &reactor;
  io.kind = kFlushOnly;
  nvme::Sqe sqe{};
  sqe.opcode = nvme_cmd_flush;
  submit(reactor, io, make_passthrough_command(sqe, drive_nsid_, nullptr, 0, false));
}

int NvmePassthroughBackend::refresh_size() {
  std::array<std::uint8_t, 4096> page{};
  int rc = admin_command(fd_, nvme_admin_identify, drive_nsid_, NVME_IDENTIFY_CNS_NS, page.data(), page.size());
  if (rc != 0) return rc < 0 ? rc : -EIO;
  size_.store(std::uint64_t(le64toh(reinterpret_cast<const nvme_id_ns*>(page.data())->nsze)) << lba_shift_,
              std::memory_order_relaxed);
  return 0;
}

int NvmePassthroughBackend::sync() {
  nvme_passthru_cmd cmd{};
  cmd.opcode = nvme_cmd_flush;
  cmd.nsid = drive_nsid_;
  int rc = ioctl(fd_, NVME_IOCTL_IO_CMD, &cmd);
  if (rc < 0) return -errno;
  return rc == 0 ? 0 : -EIO;
}

}  // namespace nvmf::target
