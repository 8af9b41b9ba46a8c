// NVMe/TCP host queue: the HostQueue seam over one TCP connection (fabric/tcp/host_connection.hpp holds the
// protocol state). Connecting is synchronous: it drives the reactor with run_once() until the ICResp arrived,
// so call it from the thread that owns the reactor, outside its callbacks. Everything after is asynchronous.
#pragma once
#include <memory>
#include <string>

#include "fabric/host_transport.hpp"
#include "fabric/tcp/host_connection.hpp"

namespace nvmf::fabric {

class TcpHostQueue final : public HostQueue {
 public:
  explicit TcpHostQueue(tcp::HostConnection* connection) : connection_(connection) {}
  /// Closes the connection; outstanding requests complete with "Command Aborted By Host" (those whose buffers
  /// the kernel may still be sending from complete on a following reactor turn).
  ~TcpHostQueue() override { connection_->release(); }
  TcpHostQueue(const TcpHostQueue&) = delete;
  TcpHostQueue& operator=(const TcpHostQueue&) = delete;

  bool submit(HostRequest& req) override { return connection_->submit(req); }
  std::uint32_t outstanding() const override { return connection_->outstanding(); }
  std::uint16_t depth() const override { return connection_->depth(); }
  bool alive() const override { return connection_->alive(); }
  const HostQueueError& error() const override { return connection_->error(); }
  void close() override;
  Reactor& reactor() override { return connection_->reactor(); }
  std::uint32_t in_capsule_limit() const override { return connection_->in_capsule_limit(); }

  /// 8192 on the admin queue (the default), IOCCSZ * 16 - 64 on I/O queues. No clamp: the data goes out from
  /// the caller's buffers, not through a capsule buffer of the queue's.
  void set_in_capsule_limit(std::uint32_t limit) override { connection_->set_in_capsule_limit(limit); }
  /// What the ICReq/ICResp exchange settled: digests, MAXH2CDATA, CPDA.
  const tcp::NegotiatedParams& negotiated() const { return connection_->negotiated(); }

 private:
  tcp::HostConnection* connection_;  ///< Owns itself; released by the destructor
};

/// Connect one queue (TCP connect, ICReq with HPDA 0 and MAXR2T 0, digests per options, ICResp checked) within
/// options.connect_timeout. nullptr with *error set when refused, timed out or the ICResp is unacceptable.
std::unique_ptr<TcpHostQueue> connect_tcp_host_queue(Reactor& reactor, const HostQueueOptions& options,
                                                     std::string* error);

}  // namespace nvmf::fabric
