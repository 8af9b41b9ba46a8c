// File (or block device) backend through the calling reactor's io_uring.
//
// O_DIRECT is used when the file system accepts it for block-size-aligned I/O (probed at open: tmpfs refuses
// O_DIRECT, a 4 KiB-sector device refuses 512-byte I/O); otherwise buffered I/O. Durability is real either way:
// Flush is fdatasync (IORING_OP_FSYNC with DATASYNC) and FUA writes carry RWF_DSYNC, because an acknowledged flush
// is a promise to the host. Deallocate punches a hole (FALLOC_FL_PUNCH_HOLE | KEEP_SIZE) and Write Zeroes uses
// FALLOC_FL_ZERO_RANGE; where the file system lacks either, zeroes are written instead.
// A file that cannot be opened read-write is served read-only: writes fail with -EROFS.
#pragma once
#include <atomic>
#include <memory>

#include "target/backends/backend.hpp"

namespace nvmf::target {

class FileBackend final : public Backend {
 public:
  /// Throws std::runtime_error naming the path and the reason (cannot open, empty, size not a multiple of
  /// block_size).
  /// `device_block_size`: block_size is the device's logical block size and is reported as the namespace's.
  FileBackend(const std::string& path, std::uint32_t block_size, bool device_block_size = false);
  ~FileBackend() override;
  FileBackend(const FileBackend&) = delete;
  FileBackend& operator=(const FileBackend&) = delete;

  std::uint64_t size_bytes() const override { return size_.load(std::memory_order_relaxed); }
  int refresh_size() override;
  std::uint32_t block_size() const override { return device_block_size_ ? block_size_ : 0; }
  std::string describe() const override;
  bool direct() const { return fd_direct_ >= 0; }
  bool read_only() const { return read_only_; }
  /// Reads and writes submitted through the buffered descriptor although O_DIRECT is available (an unaligned
  /// buffer, offset or length). Counted on that slower path only; the O_DIRECT path stays untouched.
  std::uint64_t buffered_fallbacks() const { return buffered_fallbacks_.load(std::memory_order_relaxed); }

  void read(fabric::Reactor& reactor, BackendIo& io, std::uint64_t offset, std::byte* buffer,
            std::uint32_t length) override;
  void write(fabric::Reactor& reactor, BackendIo& io, std::uint64_t offset, const std::byte* buffer,
             std::uint32_t length, bool fua) override;
  void flush(fabric::Reactor& reactor, BackendIo& io) override;
  void write_zeroes(fabric::Reactor& reactor, BackendIo& io, std::uint64_t offset, std::uint64_t length) override;
  void deallocate(fabric::Reactor& reactor, BackendIo& io, std::uint64_t offset, std::uint64_t length) override;
  int sync() override;

 private:
  enum Kind : std::uint8_t { kRead, kWrite, kFlush, kZeroRange, kPunchHole, kWriteZeroBuffer };

  static void on_completion(fabric::IoOp& op, std::int32_t res, std::uint32_t flags);
  void start(fabric::Reactor& reactor, BackendIo& io, Kind kind, std::uint64_t offset, std::byte* buffer,
             std::uint64_t length, bool fua);
  void submit(BackendIo& io);
  void handle_result(BackendIo& io, std::int32_t res);
  int fd_for(const BackendIo& io) const;

  std::string path_;
  std::uint32_t block_size_;
  bool device_block_size_;
  std::atomic<std::uint64_t> size_{0};
  int fd_ = -1;         ///< Buffered descriptor (always open)
  int fd_direct_ = -1;  ///< O_DIRECT descriptor, when the file system allows it
  bool read_only_ = false;
  std::atomic<bool> zero_range_supported_{true};
  std::atomic<bool> punch_hole_supported_{true};
  std::byte* zero_buffer_ = nullptr;  ///< Aligned zeroes for the write-zeroes fallback
  mutable std::atomic<std::uint64_t> buffered_fallbacks_{0};
};

}  // namespace nvmf::target
