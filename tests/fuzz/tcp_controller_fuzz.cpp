// libFuzzer harness: the NVMe/TCP receive path in the controller role (PduReceiver -> controller_recv.cpp), fed
// a host's byte stream cut at arbitrary points (stream_support.hpp). Behind the queue sits a small handler that
// does what a controller does with the transport: Connect sets the queue parameters, writes fetch their data
// (R2T / H2CData), reads return data (C2HData), everything completes. At the end the stream closes and the queue
// must tear down and delete itself (handler destroyed); anything else is a finding.
//
// flags bit 0: MAXH2CDATA 4096 (several R2T windows per write) instead of 64 KiB; bit 1: max_r2t_commands 1
// (later writes wait for their first R2T); bit 2: a 256-byte receive staging buffer (PDUs straddle recvs).
#include <cstdlib>
#include <cstring>

#include "fabric/log.hpp"
#include "fabric/tcp/controller_queue.hpp"
#include "nvme/fabrics.hpp"
#include "stream_support.hpp"

using namespace nvmf;
using namespace nvmf::fabric;

namespace {

int g_handlers_alive = 0;

class CompletingHandler final : public QueueHandler {
 public:
  explicit CompletingHandler(ControllerQueue& queue) : queue_(queue) { ++g_handlers_alive; }
  ~CompletingHandler() override { --g_handlers_alive; }

  void on_command(ControllerRequest& req) override {
    if (req.sqe.opcode == nvme::kFabricsOpcode && req.sqe.bytes()[4] == nvme_fabrics_type_connect) {
      auto c = nvme::fabrics_view<nvme::ConnectCommand>(req.sqe);
      queue_.set_params({c.qid, static_cast<std::uint16_t>(c.sqsize + 1), false});
      return queue_.complete(req);
    }
    if (req.direction == DataDirection::host_to_controller && !req.data_ready) return queue_.fetch_data(req);
    if (req.direction == DataDirection::controller_to_host && req.data)
      std::memset(req.data, 0xA5, req.data_length);
    finish(req);
  }
  void on_data_fetched(ControllerRequest& req) override { finish(req); }
  void on_queue_closed() override {}

 private:
  void finish(ControllerRequest& req) {
    const bool close_after = req.sqe.cdw13 == 0xC105E;  // the host may ask the controller to drop the queue
    queue_.complete(req);
    if (close_after) queue_.close();
  }
  ControllerQueue& queue_;
};

class Factory final : public QueueHandlerFactory {
 public:
  std::unique_ptr<QueueHandler> make_handler(ControllerQueue& queue) override {
    return std::make_unique<CompletingHandler>(queue);
  }
};

Reactor& reactor() {
  static Reactor* r = [] {
    ReactorOptions o;
    o.ring_entries = 64;
    o.buffer_size = 64 * 1024;
    return new Reactor(0, o);
  }();
  return *r;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // NVMF_FUZZ_LOG=1 keeps the product's own log level, to see why an input ends as it does.
  // A malformed PDU is logged as a warning per input: keep the output readable.
  if (!std::getenv("NVMF_FUZZ_LOG")) log::set_level(log::Level::error);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::StreamInput in;
  if (!fuzz::StreamInput::parse(data, size, &in)) return 0;
  Reactor& r = reactor();

  tcp::ControllerQueueConfig config;
  config.limits.max_io_size = 64 * 1024;
  config.limits.in_capsule_data_size = 8192;
  config.limits.max_queue_depth = 8;
  config.limits.max_r2t_commands = (in.flags & 2) ? 1 : 0;
  config.max_h2c_data = (in.flags & 1) ? 4096 : 0;
  config.receive_buffer_size = (in.flags & 4) ? 256 : 64 * 1024;
  config.term_req_timeout = std::chrono::milliseconds(50);

  fuzz::Peer peer;
  int fd = peer.open();
  if (fd < 0) return 0;
  Factory factory;
  tcp::TcpControllerQueue::start(r, fd, "fuzz", config, factory);
  fuzz::Cutter cutter(in.seed);
  fuzz::feed(r, peer, in.data, in.size, cutter);

  // End of the stream: the queue sees EOF, closes, and deletes itself with its handler.
  peer.shutdown_write();
  for (int turn = 0; g_handlers_alive > 0; ++turn) {
    if (turn == 2000) fuzz::stuck("controller queue still alive 2 s after the host closed the connection");
    peer.drain();
    r.run_once(std::chrono::milliseconds(turn < 10 ? 0 : 1));
  }
  fuzz::settle(r);
  return 0;
}
