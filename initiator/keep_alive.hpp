// Keep Alive on the admin queue (NVMe base spec 3.9): a command every KATO/2 so the controller's timer, which
// expires after KATO without one, never fires while the host is alive. Runs on the admin queue's reactor; it
// only ticks while someone drives that reactor (an IoQueue sharing it, Controller::poll, a sync admin command).
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

#include "fabric/host_transport.hpp"
#include "fabric/reactor.hpp"

namespace nvmf::initiator {

class KeepAlive {
 public:
  KeepAlive() = default;
  ~KeepAlive() { stop(); }
  KeepAlive(const KeepAlive&) = delete;
  KeepAlive& operator=(const KeepAlive&) = delete;

  void start(fabric::HostQueue& admin, std::chrono::milliseconds interval);
  /// Cancel the timer and wait for a Keep Alive still in flight (its request lives here).
  void stop();

  bool failed() const { return failed_; }
  const std::string& failure() const { return failure_; }
  std::uint64_t sent() const { return sent_; }

 private:
  enum class State { idle, waiting, in_flight, stopped };
  static void on_complete(fabric::HostRequest& req);
  void on_timer();
  void arm();

  State state_ = State::idle;
  fabric::HostQueue* admin_ = nullptr;
  std::chrono::milliseconds interval_{0};
  fabric::TimerWheel::Id timer_ = 0;
  fabric::HostRequest request_;
  bool stop_after_completion_ = false;
  bool failed_ = false;
  std::string failure_;
  std::uint64_t sent_ = 0;
};

}  // namespace nvmf::initiator
