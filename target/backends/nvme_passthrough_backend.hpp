// NVMe passthrough namespaces (`nvme:/dev/ngXnY`): a local NVMe namespace through its generic character device,
// with io_uring NVMe passthrough (IORING_OP_URING_CMD, cmd_op NVME_URING_CMD_IO, struct nvme_uring_cmd; Linux
// 5.19+). The host's NVM I/O commands (Read, Write, Compare, Flush, Write Zeroes, Dataset Management) go to the
// drive as the drive's own commands: same opcode and CDW2-3/10-15, the NSID of the drive's namespace, the request
// buffer as data. The drive's completion status goes back to the host unchanged. Admin commands are never
// forwarded: the target answers them itself; Identify Namespace is the drive's, with the exported namespace's
// identifiers.
//
// URING_CMD for NVMe needs a ring set up with IORING_SETUP_SQE128 | IORING_SETUP_CQE32, which the reactors' rings
// are not. So each reactor that serves such a namespace gets a passthrough ring of its own (per backend, created
// lazily on that reactor). The reactor's ring watches its fd with a one-shot IORING_OP_POLL_ADD, armed only
// while commands are in flight, and reaps it when it fires: no CPU is spent while idle, and an idle backend has
// nothing armed on any reactor, so it can be destroyed from any thread.
#pragma once
#include <linux/nvme_ioctl.h>

#include <array>
#include <atomic>
#include <memory>
#include <string>

#include "target/backends/backend.hpp"

namespace nvmf::target {

/// The passthrough command forwarding `sqe` to namespace `drive_nsid` of the drive: opcode, CDW2-3 and
/// CDW10-15 as the host sent them (FUA added to a Write when `fua`), `data`/`length` as the data buffer, no
/// metadata, flags 0 (the kernel picks PRPs or SGLs itself), the kernel's default timeout.
nvme_uring_cmd make_passthrough_command(const nvme::Sqe& sqe, std::uint32_t drive_nsid, const std::byte* data,
                                        std::uint32_t length, bool fua);

class NvmePassthroughBackend final : public Backend {
 public:
  /// Opens `path` and probes it: an NVMe generic character device whose namespace has a usable LBA format
  /// (no metadata), a kernel with io_uring NVMe passthrough, and a one-block Read through it that the drive
  /// completes. Throws std::runtime_error naming the path and the reason.
  explicit NvmePassthroughBackend(const std::string& path);
  ~NvmePassthroughBackend() override;
  NvmePassthroughBackend(const NvmePassthroughBackend&) = delete;
  NvmePassthroughBackend& operator=(const NvmePassthroughBackend&) = delete;

  std::uint64_t size_bytes() const override { return size_.load(std::memory_order_relaxed); }
  std::string describe() const override;
  std::uint32_t block_size() const override { return 1u << lba_shift_; }
  bool deallocate_reads_zeroes() const override;
  const nvme_id_ns* identify_namespace() const override;
  std::uint32_t drive_nsid() const { return drive_nsid_; }
  /// Largest transfer the kernel passes through in one command (the device queue's max_hw_sectors).
  std::uint32_t max_transfer() const { return max_transfer_; }

  bool forwards_commands() const override { return true; }
  void forward(fabric::Reactor& reactor, BackendIo& io, const nvme::Sqe& sqe, std::byte* data, std::uint32_t length,
               bool fua) override;

  // The byte-range operations, as NVMe commands to the drive (offsets and lengths in whole blocks).
  void read(fabric::Reactor& reactor, BackendIo& io, std::uint64_t offset, std::byte* buffer,
            std::uint32_t length) override;
  void write(fabric::Reactor& reactor, BackendIo& io, std::uint64_t offset, const std::byte* buffer,
             std::uint32_t length, bool fua) override;
  void flush(fabric::Reactor& reactor, BackendIo& io) override;
  void write_zeroes(fabric::Reactor& reactor, BackendIo& io, std::uint64_t offset, std::uint64_t length) override;
  void deallocate(fabric::Reactor& reactor, BackendIo& io, std::uint64_t offset, std::uint64_t length) override;

  /// Re-reads the capacity from Identify Namespace (blocking ioctl; control path).
  int refresh_size() override;
  /// A Flush through the admin-path ioctl (NVME_IOCTL_IO_CMD), blocking.
  int sync() override;

  class Ring;  // one reactor's passthrough ring (defined in the .cpp)

 private:
  struct Slot {
    std::atomic<fabric::Reactor*> owner{nullptr};
    Ring* ring = nullptr;  ///< Touched only by the owner's thread
  };
  static constexpr std::size_t kSlots = 256;  ///< Reactors served at once (one per core)

  Ring* ring_for(fabric::Reactor& reactor);
  void submit(fabric::Reactor& reactor, BackendIo& io, const nvme_uring_cmd& cmd);
  static void on_complete(BackendIo& io, std::int32_t res);
  void start_range(fabric::Reactor& reactor, BackendIo& io, std::uint8_t kind, std::uint64_t offset,
                   std::uint64_t length, std::byte* data, bool fua);
  void next_range_command(BackendIo& io);

  std::string path_;
  int fd_ = -1;
  std::uint32_t drive_nsid_ = 0;
  std::uint8_t lba_shift_ = 9;
  std::uint32_t max_transfer_ = 0;
  std::atomic<std::uint64_t> size_{0};
  std::unique_ptr<std::array<std::uint8_t, 4096>> identify_;  ///< The drive's Identify Namespace (probe time)
  std::unique_ptr<std::array<Slot, kSlots>> slots_;
};

}  // namespace nvmf::target
