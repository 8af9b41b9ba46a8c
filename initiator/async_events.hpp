// Asynchronous Event Requests kept posted on the admin queue (NVMe base spec 5.2): the controller holds each
// until an event happens, completes it with the event in CQE DW0, and the host posts a new one. Completions are
// only recorded here (they arrive inside a reactor callback, where no synchronous admin command may run); the
// Controller handles them later from its maintenance (reads the log page that re-arms the event, refreshes the
// namespaces, tells the application). One request outstanding, as the Linux host (NVME_NR_AEN_COMMANDS).
#pragma once
#include <array>
#include <cstdint>

#include "fabric/host_transport.hpp"

namespace nvmf::initiator {

class AsyncEvents {
 public:
  AsyncEvents() = default;
  ~AsyncEvents() { stop(); }
  AsyncEvents(const AsyncEvents&) = delete;
  AsyncEvents& operator=(const AsyncEvents&) = delete;

  /// Post the first request on `admin`.
  void start(fabric::HostQueue& admin);
  /// Stop reposting. A request still held by the controller completes only when the admin queue closes: the
  /// caller closes it (this waits, bounded, for that completion, since the request lives here).
  void stop();
  /// Before a normal shutdown: the request still held is neither reposted nor reported when the controller
  /// completes it (a controller that is shutting down answers a new one with Command Sequence Error).
  void quiesce();

  /// Take the oldest recorded event (CQE DW0); false when none is waiting.
  bool take(std::uint32_t* dw0);
  std::uint64_t received() const { return received_; }

 private:
  enum class State { idle, posted, quiesced, stopped };
  static void on_complete(fabric::HostRequest& req);
  void post();

  State state_ = State::idle;
  fabric::HostQueue* admin_ = nullptr;
  fabric::HostRequest request_;
  // Events not yet handled. The controller sends one of a kind until its log page is read, so a handful of
  // slots is plenty; an overflow drops the oldest (logged).
  std::array<std::uint32_t, 16> events_{};
  unsigned head_ = 0, count_ = 0;
  std::uint64_t received_ = 0;
};

}  // namespace nvmf::initiator
