#include "target/backends/block_backend.hpp"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "fabric/log.hpp"
#include "fabric/reactor.hpp"
#include "target/backends/file_backend.hpp"

namespace nvmf::target {

namespace {

constexpr std::size_t kDiscardQueueReserve = 1024;  ///< Queued discards before the queue's vector grows

/// Reads, writes, flushes and zeroes through the file backend; deallocates with BLKDISCARD on its own thread.
class BlockBackend final : public Backend {
 public:
  BlockBackend(std::shared_ptr<FileBackend> io, std::string path, int discard_fd, bool discards)
      : io_(std::move(io)), path_(std::move(path)), discard_fd_(discard_fd), discards_(discards) {
    queue_.reserve(kDiscardQueueReserve);
    if (discard_fd_ >= 0) worker_ = std::thread([this] { run(); });
  }
  ~BlockBackend() override {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    if (worker_.joinable()) worker_.join();
    if (discard_fd_ >= 0) ::close(discard_fd_);
  }
  BlockBackend(const BlockBackend&) = delete;
  BlockBackend& operator=(const BlockBackend&) = delete;

  std::uint64_t size_bytes() const override { return io_->size_bytes(); }
  std::string describe() const override {
    return io_->describe() + (discards_.load(std::memory_order_relaxed) ? " discard" : " no-discard");
  }
  std::uint32_t block_size() const override { return io_->block_size(); }
  bool deallocate_reads_zeroes() const override { return false; }
  int refresh_size() override { return io_->refresh_size(); }
  int sync() override { return io_->sync(); }

  void read(fabric::Reactor& reactor, BackendIo& io, std::uint64_t offset, std::byte* buffer,
            std::uint32_t length) override {
    io_->read(reactor, io, offset, buffer, length);
  }
  void write(fabric::Reactor& reactor, BackendIo& io, std::uint64_t offset, const std::byte* buffer,
             std::uint32_t length, bool fua) override {
    io_->write(reactor, io, offset, buffer, length, fua);
  }
  void flush(fabric::Reactor& reactor, BackendIo& io) override { io_->flush(reactor, io); }
  void write_zeroes(fabric::Reactor& reactor, BackendIo& io, std::uint64_t offset, std::uint64_t length) override {
    io_->write_zeroes(reactor, io, offset, length);
  }

  void deallocate(fabric::Reactor& reactor, BackendIo& io, std::uint64_t offset, std::uint64_t length) override {
    if (io_->read_only()) return io.done(io, -EROFS);
    // Advisory: a device that cannot discard keeps its data, and the command still succeeds.
    if (discard_fd_ < 0 || !discards_.load(std::memory_order_relaxed)) return io.done(io, 0);
    io.backend = this;
    io.reactor = &reactor;
    io.offset = offset;
    io.remaining = length;
    {
      std::lock_guard lock(mutex_);
      queue_.push_back(&io);
    }
    wake_.notify_one();
  }

 private:
  void run() {
    std::vector<BackendIo*> batch;
    batch.reserve(kDiscardQueueReserve);
    for (;;) {
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        // Queued work cannot outlive the backend: a namespace is released only once no command uses it.
        if (stopping_) return;
        batch.swap(queue_);
      }
      for (BackendIo* io : batch) {
        const int result = discard(io->offset, io->remaining);
        // Back to the reactor that owns the command (Reactor::post is safe from any thread).
        io->reactor->post([io, result] { io->done(*io, result); });
      }
      batch.clear();
    }
  }

  int discard(std::uint64_t offset, std::uint64_t length) {
    std::uint64_t range[2] = {offset, length};
    if (ioctl(discard_fd_, BLKDISCARD, range) == 0) return 0;
    const int err = errno;
    if (err == EOPNOTSUPP) {
      if (discards_.exchange(false)) NVMF_LOG(info, "%s: no discard support; Deallocate is a no-op", path_.c_str());
      return 0;
    }
    return -err;
  }

  const std::shared_ptr<FileBackend> io_;
  const std::string path_;
  const int discard_fd_;  ///< Read-write descriptor for BLKDISCARD; -1 when the device is read-only
  std::atomic<bool> discards_;

  std::mutex mutex_;  // guards the fields below, shared by the reactors and the worker
  std::condition_variable wake_;
  std::vector<BackendIo*> queue_;
  bool stopping_ = false;

  std::thread worker_;
};

}  // namespace

bool block_device_discards(dev_t rdev) {
  const std::string dev = "/sys/dev/block/" + std::to_string(major(rdev)) + ":" + std::to_string(minor(rdev));
  // A partition has no queue/ of its own: its disk's is one level up.
  for (const char* queue : {"/queue/discard_max_bytes", "/../queue/discard_max_bytes"}) {
    std::ifstream f(dev + queue);
    std::uint64_t max_bytes = 0;
    if (f >> max_bytes) return max_bytes > 0;
  }
  return true;
}

std::shared_ptr<Backend> open_block_device(const std::string& path) {
  const std::string what = "block device '" + path + "': ";
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error(what + "cannot open: " + std::strerror(errno));
  struct stat st {};
  int logical = 0;
  int rc = fstat(fd, &st);
  int err = errno;
  if (rc == 0 && S_ISBLK(st.st_mode)) {
    rc = ioctl(fd, BLKSSZGET, &logical);
    err = errno;
  }
  ::close(fd);
  if (rc != 0) throw std::runtime_error(what + "cannot read its geometry: " + std::strerror(err));
  if (!S_ISBLK(st.st_mode)) throw std::runtime_error(what + "not a block device (use file: for regular files)");
  if (logical < 512 || (logical & (logical - 1)))
    throw std::runtime_error(what + "unusable logical block size " + std::to_string(logical));
  auto io = std::make_shared<FileBackend>(path, static_cast<std::uint32_t>(logical), true);
  if (!io->direct()) throw std::runtime_error(what + "O_DIRECT I/O is refused");
  // BLKDISCARD needs the device open for writing; a read-only device refuses Deallocate like any write.
  const int discard_fd = io->read_only() ? -1 : open(path.c_str(), O_WRONLY | O_CLOEXEC);
  return std::make_shared<BlockBackend>(std::move(io), path, discard_fd, block_device_discards(st.st_rdev));
}

}  // namespace nvmf::target
