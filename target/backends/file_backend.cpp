#include "target/backends/file_backend.hpp"

#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "fabric/log.hpp"
#include "fabric/reactor.hpp"

namespace nvmf::target {

namespace {
constexpr std::size_t kZeroBufferSize = 1 << 20;
constexpr std::size_t kAlignment = 4096;

std::runtime_error file_error(const std::string& path, const std::string& what, int err = 0) {
  std::string msg = "namespace file '" + path + "': " + what;
  if (err) msg += std::string(": ") + std::strerror(err);
  return std::runtime_error(msg);
}

/// O_DIRECT works for this file and block size when an aligned block-sized read succeeds.
bool probe_direct(int fd, std::uint32_t block_size) {
  void* buf = std::aligned_alloc(kAlignment, std::max<std::size_t>(block_size, kAlignment));
  if (!buf) return false;
  bool ok = pread(fd, buf, block_size, 0) == static_cast<ssize_t>(block_size);
  std::free(buf);
  return ok;
}
}  // namespace

FileBackend::FileBackend(const std::string& path, std::uint32_t block_size, bool device_block_size)
    : path_(path), block_size_(block_size), device_block_size_(device_block_size) {
  fd_ = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd_ < 0 && (errno == EACCES || errno == EROFS || errno == EPERM)) {
    fd_ = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ >= 0) {
      read_only_ = true;
      NVMF_LOG(warn, "namespace file %s is not writable: serving it read-only", path.c_str());
    }
  }
  if (fd_ < 0) throw file_error(path, "cannot open", errno);

  struct stat st {};
  if (fstat(fd_, &st) != 0) {
    int err = errno;
    ::close(fd_);
    throw file_error(path, "cannot stat", err);
  }
  if (S_ISBLK(st.st_mode)) {
    std::uint64_t bytes = 0;
    if (ioctl(fd_, BLKGETSIZE64, &bytes) != 0) {
      int err = errno;
      ::close(fd_);
      throw file_error(path, "cannot read the block device size", err);
    }
    size_ = bytes;
  } else if (S_ISREG(st.st_mode)) {
    size_ = static_cast<std::uint64_t>(st.st_size);
  } else {
    ::close(fd_);
    throw file_error(path, "not a regular file or block device");
  }
  if (size_ == 0 || size_ % block_size_ != 0) {
    ::close(fd_);
    throw file_error(path, "size " + std::to_string(size_.load()) + " is not a positive multiple of the block size " +
                               std::to_string(block_size_));
  }

  int direct = open(path.c_str(), (read_only_ ? O_RDONLY : O_RDWR) | O_DIRECT | O_CLOEXEC);
  if (direct >= 0 && probe_direct(direct, block_size_)) {
    fd_direct_ = direct;
  } else if (direct >= 0) {
    ::close(direct);
  }

  zero_buffer_ = static_cast<std::byte*>(std::aligned_alloc(kAlignment, kZeroBufferSize));
  if (!zero_buffer_) {
    ::close(fd_);
    if (fd_direct_ >= 0) ::close(fd_direct_);
    throw std::bad_alloc();
  }
  std::memset(zero_buffer_, 0, kZeroBufferSize);
}

FileBackend::~FileBackend() {
  if (fd_direct_ >= 0) ::close(fd_direct_);
  if (fd_ >= 0) ::close(fd_);
  std::free(zero_buffer_);
}

std::string FileBackend::describe() const {
  return (device_block_size_ ? "blk:" : "file:") + path_ + (direct() ? " (O_DIRECT)" : " (buffered)") + (read_only_ ? " read-only" : "");
}

int FileBackend::fd_for(const BackendIo& io) const {
  // O_DIRECT needs the memory, offset and length aligned to the block size; anything else (an unaligned
  // in-capsule buffer) goes through the page cache, which the kernel keeps coherent with direct I/O.
  if (fd_direct_ < 0) return fd_;
  auto addr = reinterpret_cast<std::uintptr_t>(io.buffer);
  if (addr % block_size_ || io.offset % block_size_ || io.remaining % block_size_) {
    buffered_fallbacks_.fetch_add(1, std::memory_order_relaxed);
    return fd_;
  }
  return fd_direct_;
}

void FileBackend::start(fabric::Reactor& reactor, BackendIo& io, Kind kind, std::uint64_t offset, std::byte* buffer,
                        std::uint64_t length, bool fua) {
  io.backend = this;
  io.reactor = &reactor;
  io.kind = kind;
  io.offset = offset;
  io.buffer = buffer;
  io.remaining = length;
  io.fua = fua;
  io.op.handler = &FileBackend::on_completion;
  submit(io);
}

void FileBackend::submit(BackendIo& io) {
  io_uring_sqe* sqe = io.reactor->sqe(io.op);
  switch (io.kind) {
    case kRead:
      io_uring_prep_read(sqe, fd_for(io), io.buffer, static_cast<unsigned>(io.remaining), io.offset);
      break;
    case kWrite:
      io_uring_prep_write(sqe, fd_for(io), io.buffer, static_cast<unsigned>(io.remaining), io.offset);
      if (io.fua) sqe->rw_flags = RWF_DSYNC;
      break;
    case kWriteZeroBuffer: {
      auto chunk = static_cast<unsigned>(std::min<std::uint64_t>(io.remaining, kZeroBufferSize));
      bool aligned = fd_direct_ >= 0 && io.offset % block_size_ == 0 && chunk % block_size_ == 0;
      io_uring_prep_write(sqe, aligned ? fd_direct_ : fd_, zero_buffer_, chunk, io.offset);
      break;
    }
    case kFlush:
      io_uring_prep_fsync(sqe, fd_, IORING_FSYNC_DATASYNC);
      break;
    case kZeroRange:
      io_uring_prep_fallocate(sqe, fd_, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, io.offset, io.remaining);
      break;
    case kPunchHole:
      io_uring_prep_fallocate(sqe, fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, io.offset, io.remaining);
      break;
  }
}

void FileBackend::on_completion(fabric::IoOp& op, std::int32_t res, std::uint32_t) {
  auto& io = fabric::owner_of(&BackendIo::op, op);
  static_cast<FileBackend*>(io.backend)->handle_result(io, res);
}

void FileBackend::handle_result(BackendIo& io, std::int32_t res) {
  if (res == -EINTR || res == -EAGAIN) return submit(io);
  switch (io.kind) {
    case kRead:
    case kWrite:
    case kWriteZeroBuffer:
      if (res < 0) return io.done(io, res);
      if (res == 0) return io.done(io, -EIO);  // read past the end: the file shrank under us
      io.offset += static_cast<std::uint64_t>(res);
      io.remaining -= static_cast<std::uint64_t>(res);
      if (io.kind != kWriteZeroBuffer) io.buffer += res;
      if (io.remaining > 0) return submit(io);
      return io.done(io, 0);
    case kZeroRange:
    case kPunchHole:
      if (res == -EOPNOTSUPP || res == -EINVAL) {
        (io.kind == kZeroRange ? zero_range_supported_ : punch_hole_supported_).store(false, std::memory_order_relaxed);
        io.kind = kWriteZeroBuffer;
        return submit(io);
      }
      return io.done(io, res < 0 ? res : 0);
    case kFlush:
      return io.done(io, res < 0 ? res : 0);
  }
}

void FileBackend::read(fabric::Reactor& reactor, BackendIo& io, std::uint64_t offset, std::byte* buffer,
                       std::uint32_t length) {
  start(reactor, io, kRead, offset, buffer, length, false);
}

void FileBackend::write(fabric::Reactor& reactor, BackendIo& io, std::uint64_t offset, const std::byte* buffer,
                        std::uint32_t length, bool fua) {
  if (read_only_) return io.done(io, -EROFS);
  start(reactor, io, kWrite, offset, const_cast<std::byte*>(buffer), length, fua);
}

void FileBackend::flush(fabric::Reactor& reactor, BackendIo& io) {
  if (read_only_) return io.done(io, 0);
  start(reactor, io, kFlush, 0, nullptr, 0, false);
}

void FileBackend::write_zeroes(fabric::Reactor& reactor, BackendIo& io, std::uint64_t offset, std::uint64_t length) {
  if (read_only_) return io.done(io, -EROFS);
  Kind kind = zero_range_supported_.load(std::memory_order_relaxed) ? kZeroRange : kWriteZeroBuffer;
  start(reactor, io, kind, offset, nullptr, length, false);
}

void FileBackend::deallocate(fabric::Reactor& reactor, BackendIo& io, std::uint64_t offset, std::uint64_t length) {
  if (read_only_) return io.done(io, -EROFS);
  Kind kind = punch_hole_supported_.load(std::memory_order_relaxed) ? kPunchHole : kWriteZeroBuffer;
  start(reactor, io, kind, offset, nullptr, length, false);
}

int FileBackend::refresh_size() {
  struct stat st {};
  if (fstat(fd_, &st) != 0) return -errno;
  std::uint64_t bytes = static_cast<std::uint64_t>(st.st_size);
  if (S_ISBLK(st.st_mode) && ioctl(fd_, BLKGETSIZE64, &bytes) != 0) return -errno;
  size_.store(bytes - bytes % block_size_, std::memory_order_relaxed);  // whole blocks only
  return 0;
}

int FileBackend::sync() {
  if (read_only_) return 0;
  return fdatasync(fd_) == 0 ? 0 : -errno;
}

}  // namespace nvmf::target
