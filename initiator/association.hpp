// What the I/O queues of one controller share with it about the association they belong to: which association
// is current (a generation counted up by every successful connect), its CNTLID, and whether I/O caught by a
// connection loss waits for the reconnect or fails. The Controller (admin side) writes it; each IoQueue reads it
// on its own thread and reports losses it sees first. Atomics only: the data path takes no lock.
//
// Policy (Linux host defaults, nvme-cli's connect options): reconnect every reconnect_delay; give up after
// ctrl_loss_tmo (then queued I/O fails); fast_io_fail_tmo, when set, fails queued I/O earlier while the
// reconnect attempts go on.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include "fabric/host_transport.hpp"
#include "fabric/reactor.hpp"
#include "initiator/error.hpp"

namespace nvmf::initiator {

class AssociationState {
 public:
  enum class Link : std::uint8_t { live, reconnecting, failed };

  /// Connect I/O queue `qid` of `depth` entries on `reactor` for the current association (transport
  /// handshake and fabrics Connect with the current CNTLID). nullptr and *error on failure.
  using IoConnector = std::function<std::unique_ptr<fabric::HostQueue>(fabric::Reactor& reactor, std::uint16_t qid,
                                                                        std::uint16_t depth, Error* error)>;

  AssociationState(IoConnector connector, std::chrono::milliseconds reconnect_delay)
      : connector_(std::move(connector)), reconnect_delay_(reconnect_delay) {}

  // ---- Written by the controller ----
  void set_live(std::uint16_t cntlid) {
    cntlid_.store(cntlid, std::memory_order_relaxed);
    fast_fail_.store(false, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
    link_.store(Link::live, std::memory_order_release);
  }
  void set_reconnecting() { link_.store(Link::reconnecting, std::memory_order_release); }
  void set_failed() { link_.store(Link::failed, std::memory_order_release); }
  void set_fast_fail() { fast_fail_.store(true, std::memory_order_release); }
  /// True (once) when a queue reported the loss of the current generation's connection.
  bool take_loss_report() {
    const std::uint32_t gen = generation();
    std::uint32_t expected = gen;
    return reported_loss_.compare_exchange_strong(expected, 0, std::memory_order_acq_rel);
  }

  // ---- Read by the queues ----
  std::uint32_t generation() const { return generation_.load(std::memory_order_acquire); }
  std::uint16_t cntlid() const { return cntlid_.load(std::memory_order_relaxed); }
  Link link() const { return link_.load(std::memory_order_acquire); }
  bool fast_fail() const { return fast_fail_.load(std::memory_order_acquire); }
  std::chrono::milliseconds reconnect_delay() const { return reconnect_delay_; }
  /// A queue saw the connection of association `generation` fail: the controller resets the association
  /// (the Linux host's error recovery: any queue's failure tears the whole controller down).
  void report_loss(std::uint32_t generation) { reported_loss_.store(generation, std::memory_order_release); }
  std::unique_ptr<fabric::HostQueue> connect_io(fabric::Reactor& reactor, std::uint16_t qid, std::uint16_t depth,
                                                Error* error) const {
    return connector_(reactor, qid, depth, error);
  }

 private:
  IoConnector connector_;
  std::chrono::milliseconds reconnect_delay_;
  std::atomic<std::uint32_t> generation_{0};
  std::atomic<std::uint16_t> cntlid_{0};
  std::atomic<Link> link_{Link::reconnecting};
  std::atomic<bool> fast_fail_{false};
  std::atomic<std::uint32_t> reported_loss_{0};
};

}  // namespace nvmf::initiator
