// The ceiling's server: accepts one connection at a time on one io_uring and answers every request with a
// response of the size the request asks for, as soon as the whole request has arrived (a target must receive a
// write's data before it completes it). One receive and one send in flight, answers batched per receive.
#pragma once
#include <csignal>
#include <cstdint>
#include <memory>
#include <vector>

#include "bench/ceiling/endpoint.hpp"
#include "bench/ceiling/message_reader.hpp"
#include "bench/ceiling/message_sender.hpp"
#include "bench/ceiling/payload_memory.hpp"
#include "bench/ceiling/ring.hpp"

namespace nvmf::bench {

struct ServerOptions {
  SocketAddress listen;
  WaitMode mode = WaitMode::interrupt;
  TaskRun task_run = TaskRun::defer;
  std::size_t receive_buffer = 1024 * 1024;
  std::size_t max_batch = 1024;  ///< Responses gathered into one sendmsg at most
  /// Non-zero: payloads go to and come from this many bytes of memory at random offsets (PayloadMemory), the
  /// ceiling of a RAM namespace; zero: from one hot buffer, the ceiling of a null one.
  std::size_t payload_memory = 0;
};

class CeilingServer {
 public:
  explicit CeilingServer(const ServerOptions& options);
  ~CeilingServer();
  CeilingServer(const CeilingServer&) = delete;
  CeilingServer& operator=(const CeilingServer&) = delete;

  /// Serve connections one after another until `stop` becomes non-zero (a signal handler sets it).
  void run(const volatile std::sig_atomic_t& stop);
  const Ring& ring() const { return ring_; }
  /// The port listened on (useful with port 0).
  std::uint16_t port() const;

 private:
  enum Op : std::uint64_t { op_accept = 1, op_receive, op_send };
  enum class State { accepting, serving, closing };

  void on_completion(std::uint64_t op, int res);
  void on_accept(int res);
  void on_receive(int res);
  void on_send(int res);
  void consume_received();
  bool on_message(const MessageHeader& header);
  void flush();
  void begin_close(const char* why, int err);
  void finish_close_if_idle();
  void arm_accept();
  void arm_receive();

  ServerOptions options_;
  Ring ring_;
  int listen_fd_ = -1;
  int fd_ = -1;
  State state_ = State::accepting;
  bool receiving_ = false;
  bool sending_ = false;

  std::vector<std::uint8_t> receive_buffer_;
  std::size_t received_ = 0;  ///< Valid bytes in receive_buffer_
  std::size_t consumed_ = 0;  ///< Of those, handed to the reader
  MessageReader reader_;
  MessageSender sender_;
  std::vector<std::uint8_t> payload_;  ///< Zeroes; every response's payload points here without payload memory
  std::unique_ptr<PayloadMemory> memory_;  ///< ServerOptions::payload_memory, when set

  CpuTime cpu_at_accept_;
  std::uint64_t requests_ = 0;
  ServerStats stats_answer_{};
};

}  // namespace nvmf::bench
