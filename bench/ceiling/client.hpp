// The ceiling's client: keeps queue_depth requests in flight on one connection for a fixed time, reissuing each
// slot as soon as its response has arrived (what spdk_nvme_perf does per queue pair), then drains, then asks
// the server what CPU time it spent. One receive and one send in flight, requests batched per turn.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "bench/ceiling/endpoint.hpp"
#include "bench/ceiling/latency_histogram.hpp"
#include "bench/ceiling/message_reader.hpp"
#include "bench/ceiling/message_sender.hpp"
#include "bench/ceiling/ring.hpp"

namespace nvmf::bench {

/// Sizes on the wire of one request and its response, headers included.
struct MessageShape {
  std::uint32_t request_size = 0;
  std::uint32_t response_size = 0;
};

struct ClientOptions {
  SocketAddress server;
  WaitMode mode = WaitMode::interrupt;
  TaskRun task_run = TaskRun::defer;
  MessageShape shape;              ///< Used for `shape_percent` % of requests
  MessageShape other_shape;        ///< Used for the rest (a read/write mix)
  unsigned shape_percent = 100;
  unsigned queue_depth = 1;
  double seconds = 5.0;
  std::uint64_t payload_size = 0;  ///< Bytes counted per request for MiB/s; 0: request + response size
  std::size_t receive_buffer = 1024 * 1024;
};

struct ClientResult {
  std::uint64_t completed = 0;
  double elapsed_s = 0;
  std::uint64_t payload_bytes = 0;
  LatencyHistogram latency;
  CpuTime client_cpu;
  ServerStats server{};
  std::string ring_setup;
};

class CeilingClient {
 public:
  explicit CeilingClient(const ClientOptions& options);
  ~CeilingClient();
  CeilingClient(const CeilingClient&) = delete;
  CeilingClient& operator=(const CeilingClient&) = delete;

  /// Connect, run the load, drain, collect the server's CPU time. Throws on a connection failure.
  ClientResult run();

 private:
  enum Op : std::uint64_t { op_receive = 1, op_send };
  enum class State { running, draining, querying, done };

  void on_completion(std::uint64_t op, int res);
  void on_receive(int res);
  bool on_message(const MessageHeader& header, const std::uint8_t* captured);
  void issue(std::uint32_t slot);
  void flush();
  void arm_receive();
  std::uint64_t now_ns() const;

  ClientOptions options_;
  Ring ring_;
  int fd_ = -1;
  State state_ = State::running;
  bool receiving_ = false;
  bool sending_ = false;

  std::vector<std::uint8_t> receive_buffer_;
  MessageReader reader_;
  MessageSender sender_;
  std::vector<std::uint8_t> payload_;  ///< Zeroes; every request's payload points here

  std::vector<std::uint64_t> issued_ns_;  ///< Per slot (= tag): when its request was queued
  std::vector<std::uint8_t> slot_shape_;  ///< Per slot: 0 = shape, 1 = other_shape
  std::uint64_t rng_ = 0x9e3779b97f4a7c15ull;
  std::uint64_t now_ = 0;                 ///< Clock of the receive being handled
  std::uint64_t start_ns_ = 0;
  std::uint64_t deadline_ns_ = 0;
  std::uint32_t outstanding_ = 0;
  CpuTime cpu_at_start_;
  ClientResult result_;
};

}  // namespace nvmf::bench
