// The transport seam, host role. A HostQueue is one connected queue pair to a controller: submit a command with
// its data buffers, get the completion. The initiator library (initiator/) builds controllers, the block API and
// the C API on it; it never learns which transport carries the capsules.
//
// All calls happen on the queue's reactor thread (or on the thread that drives that reactor with run_once()).
// A HostRequest is owned by the caller and must stay alive until its on_complete runs; submitting allocates
// nothing. Read data lands directly in the caller's buffers.
#pragma once
#include <sys/uio.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "fabric/transport.hpp"
#include "nvme/cqe.hpp"
#include "nvme/sqe.hpp"
#include "nvme/status.hpp"

namespace nvmf::fabric::tls {
class ClientContext;
}

namespace nvmf::fabric {

struct HostRequest {
  using Callback = void (*)(HostRequest& req);

  nvme::Sqe sqe{};           ///< The caller sets opcode, nsid, cdws; the queue sets cid and the data pointer
  const iovec* iov = nullptr;  ///< Data buffers (scatter-gather); the transfer length is their sum
  std::uint32_t iovcnt = 0;
  DataDirection direction = DataDirection::none;
  nvme::Cqe cqe{};           ///< The completion; a transport failure is reported as a host-side status
  Callback on_complete = nullptr;
  void* context = nullptr;   ///< For the caller

  nvme::Status status() const { return cqe.get_status(); }
};

/// Options for connecting one queue.
struct HostQueueOptions {
  std::string traddr = "127.0.0.1";
  std::string trsvcid = "4420";
  bool header_digest = false;
  bool data_digest = false;
  std::uint16_t queue_depth = 128;  ///< Commands outstanding at most (SQSIZE + 1)
  std::chrono::milliseconds connect_timeout{10000};
  /// NVMe/TCP over TLS 1.3 with this PSK and identity (nullptr: plain TCP).
  std::shared_ptr<const tls::ClientContext> tls;
};

/// Why a queue stopped working, for the layer above (reconnect policy, error messages).
struct HostQueueError {
  std::string message;
};

class HostQueue {
 public:
  virtual ~HostQueue() = default;

  /// Queue a command. Returns false (and leaves req untouched) when depth() commands are already outstanding
  /// or the queue is dead; the caller retries after a completion.
  virtual bool submit(HostRequest& req) = 0;
  /// Commands submitted and not yet completed.
  virtual std::uint32_t outstanding() const = 0;
  virtual std::uint16_t depth() const = 0;
  /// False once the connection failed or was closed; outstanding requests have then been completed with a
  /// transport error status (SCT 3h path-related, SC 70h "Internal Path Error" style host status).
  virtual bool alive() const = 0;
  virtual const HostQueueError& error() const = 0;
  /// Close the connection; outstanding requests complete with an aborted status.
  virtual void close() = 0;
  virtual Reactor& reactor() = 0;
  /// Largest in-capsule write the controller accepts on this queue (0: none).
  virtual std::uint32_t in_capsule_limit() const = 0;

  // Set-up, never per I/O: these replace what the initiator once reached by casting to the concrete queues.
  /// Largest write sent in-capsule from now on, from the controller's IOCCSZ once Identify told it (IOCCSZ * 16
  /// - 64 on I/O queues). The transport clamps it to what its own capsule buffers hold.
  virtual void set_in_capsule_limit(std::uint32_t limit) = 0;
  /// Register an application buffer with the adapter ahead of its first use, on transports with memory
  /// registration (RDMA); it stays registered until unregister_buffer() or the queue's end. True, doing nothing,
  /// where the transport copies data through the kernel (TCP). False with *error filled when registration failed.
  virtual bool register_buffer(void* address, std::size_t length, std::string* error = nullptr) {
    (void)address, (void)length, (void)error;
    return true;
  }
  /// Forget registrations overlapping the range: call before freeing or remapping a buffer the queue has used.
  virtual void unregister_buffer(void* address, std::size_t length) { (void)address, (void)length; }
};

}  // namespace nvmf::fabric
