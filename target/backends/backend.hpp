// Storage behind a namespace. A backend takes byte-range operations (read, write with optional FUA, flush,
// write zeroes, deallocate) and reports each one through the BackendIo the caller supplied, on the caller's
// reactor. The BackendIo lives in the caller's request context (pools sized at queue creation), so submitting
// I/O allocates nothing. A backend may complete inline, before the submit call returns.
//
// Results are 0 or a negative errno; target/backend_status.hpp turns them into NVMe statuses.
#pragma once
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <string>

#include "fabric/io_op.hpp"
#include "nvme/sqe.hpp"

struct nvme_id_ns;

namespace nvmf::fabric {
class Reactor;
}

namespace nvmf::target {

struct BackendIo;
using BackendCallback = void (*)(BackendIo& io, int result);

/// One backend operation in flight. The owner sets `done` (and `context` to find itself) once; the backend
/// owns the remaining fields while the operation is in flight.
class Backend;

struct BackendIo {
  fabric::IoOp op;                 ///< io_uring completion (file backend)
  BackendCallback done = nullptr;  ///< Called exactly once per submitted operation
  void* context = nullptr;         ///< For the owner
  // Progress state, owned by the backend between submit and done.
  Backend* backend = nullptr;
  fabric::Reactor* reactor = nullptr;
  std::uint64_t offset = 0;
  std::uint64_t remaining = 0;
  std::byte* buffer = nullptr;
  std::uint8_t kind = 0;
  bool fua = false;
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual std::uint64_t size_bytes() const = 0;
  /// "ram:1GiB", "file:/path (O_DIRECT)", for logs.
  virtual std::string describe() const = 0;
  /// The device's own logical block size, or 0 when the namespace's configured block size applies.
  virtual std::uint32_t block_size() const { return 0; }
  /// Deallocated ranges read back as zeroes (Identify Namespace DLFEAT bits 2:0 = 001b).
  virtual bool deallocate_reads_zeroes() const { return true; }

  virtual void read(fabric::Reactor& reactor, BackendIo& io, std::uint64_t offset, std::byte* buffer,
                    std::uint32_t length) = 0;
  /// Memory holding the bytes [offset, offset + length) that a read may be sent from directly instead of
  /// read() copying them, valid while this backend lives (the caller keeps it alive until the send is done);
  /// nullptr: use read(). Reads that race with writes to the same blocks may see either, as NVMe allows.
  virtual const std::byte* lend_read(std::uint64_t offset, std::uint32_t length) const {
    (void)offset, (void)length;
    return nullptr;
  }
  /// Whether write() is done with its `buffer` when it returns (it copies or discards the data inline), so the
  /// buffer may be the transport's receive buffer (ControllerRequest::data_borrowed).
  virtual bool consumes_write_data_inline() const { return false; }
  /// `fua`: the data is durable when `done` runs (Write with FUA, or the write cache is disabled).
  virtual void write(fabric::Reactor& reactor, BackendIo& io, std::uint64_t offset, const std::byte* buffer,
                     std::uint32_t length, bool fua) = 0;
  /// Everything acknowledged before is durable when `done` runs.
  virtual void flush(fabric::Reactor& reactor, BackendIo& io) = 0;
  virtual void write_zeroes(fabric::Reactor& reactor, BackendIo& io, std::uint64_t offset, std::uint64_t length) = 0;
  virtual void deallocate(fabric::Reactor& reactor, BackendIo& io, std::uint64_t offset, std::uint64_t length) = 0;

  /// Backends in front of an NVMe drive (NVMe passthrough) execute the NVM I/O commands themselves: the I/O
  /// queue checks a command as for any namespace, then hands it over whole with forward() instead of calling
  /// the byte-range operations.
  virtual bool forwards_commands() const { return false; }
  /// Sends `sqe` (Read, Write, Compare, Flush, Write Zeroes, Dataset Management) to the drive with `data`
  /// (`length` bytes, the command's whole transfer) as its buffer; `fua` forces FUA on a Write (write cache
  /// disabled). `done` gets 0, the NVMe Status Field the drive completed it with (> 0, nvme::Status encoding),
  /// or a negative errno when it never reached the drive. Only called when forwards_commands().
  virtual void forward(fabric::Reactor& reactor, BackendIo& io, const nvme::Sqe& sqe, std::byte* data,
                       std::uint32_t length, bool fua) {
    (void)reactor, (void)sqe, (void)data, (void)length, (void)fua;
    io.done(io, -EOPNOTSUPP);
  }
  /// The drive's own Identify Namespace data, when the namespace reports it (NVMe passthrough); else nullptr.
  virtual const nvme_id_ns* identify_namespace() const { return nullptr; }

  /// Control path: re-reads the size of a file or device that may have grown or shrunk (size_bytes() then
  /// reports it). Returns 0 or -errno; fixed-size backends have nothing to re-read.
  virtual int refresh_size() { return 0; }

  /// Blocking flush for shutdown paths that run outside any reactor (Target::stop). Returns 0 or -errno.
  virtual int sync() = 0;
};

}  // namespace nvmf::target
