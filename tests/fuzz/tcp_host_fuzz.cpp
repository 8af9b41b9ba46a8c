// libFuzzer harness: the NVMe/TCP receive path in the host role (PduReceiver -> host_connection.cpp), fed a
// controller's byte stream cut at arbitrary points (stream_support.hpp). The stream's first PDU answers the
// ICReq (HostConnection::open_connected); then four commands are outstanding while the rest arrives:
// CID 0 a 6 KiB read into two iovecs (C2HData), CID 1 a 20 KiB write (R2T, H2CData), CID 2 no data,
// CID 3 a 512-byte in-capsule write. At the end the stream closes: every command must complete and the
// connection delete itself; anything else is a finding.
//
// flags bit 0: header digest asked for; bit 1: data digest asked for.
#include <cstdlib>
#include <cstring>

#include "fabric/log.hpp"
#include "fabric/tcp/host_connection.hpp"
#include "stream_support.hpp"

using namespace nvmf;
using namespace nvmf::fabric;

namespace {

Reactor& reactor() {
  static Reactor* r = [] {
    ReactorOptions o;
    o.ring_entries = 64;
    o.buffer_size = 4096;
    return new Reactor(0, o);
  }();
  return *r;
}

struct Command {
  HostRequest req;
  bool done = false;
};

void on_complete(HostRequest& req) { static_cast<Command*>(req.context)->done = true; }

std::size_t first_pdu_length(const std::uint8_t* p, std::size_t n) {
  if (n < 8) return n;
  std::uint32_t plen = std::uint32_t(p[4]) | std::uint32_t(p[5]) << 8 | std::uint32_t(p[6]) << 16 |
                       std::uint32_t(p[7]) << 24;
  return std::min<std::size_t>(std::max<std::uint32_t>(plen, 8), n);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // NVMF_FUZZ_LOG=1 keeps the product's own log level, to see why an input ends as it does.
  if (!std::getenv("NVMF_FUZZ_LOG")) log::set_level(log::Level::error);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::StreamInput in;
  if (!fuzz::StreamInput::parse(data, size, &in)) return 0;
  Reactor& r = reactor();

  fuzz::Peer peer;
  int fd = peer.open();
  if (fd < 0) return 0;
  // The ICResp (or whatever comes first) is waiting before the ICReq leaves; a stream that ends inside it ends
  // the connection too, so the handshake never waits for the timeout.
  const std::size_t first = first_pdu_length(in.data, in.size);
  peer.write(r, in.data, first);
  if (first == in.size) peer.shutdown_write();

  HostQueueOptions options;
  options.header_digest = in.flags & 1;
  options.data_digest = in.flags & 2;
  options.queue_depth = 4;
  std::string why;
  tcp::HostConnection* conn =
      tcp::HostConnection::open_connected(r, fd, options, std::chrono::milliseconds(2000), &why);
  if (!conn) {
    if (why.find("no ICResp within") != std::string::npos) fuzz::stuck("ICResp handshake timed out");
    return 0;
  }

  static std::uint8_t read_a[4096], read_b[2048], write_buf[20480], small_write[512];
  iovec read_iov[2] = {{read_a, sizeof read_a}, {read_b, sizeof read_b}};
  iovec write_iov{write_buf, sizeof write_buf};
  iovec small_iov{small_write, sizeof small_write};
  Command cmds[4];
  cmds[0].req.sqe.opcode = 0x02;
  cmds[0].req.iov = read_iov;
  cmds[0].req.iovcnt = 2;
  cmds[0].req.direction = DataDirection::controller_to_host;
  cmds[1].req.sqe.opcode = 0x01;
  cmds[1].req.iov = &write_iov;
  cmds[1].req.iovcnt = 1;
  cmds[1].req.direction = DataDirection::host_to_controller;
  cmds[2].req.sqe.opcode = 0x00;
  cmds[3].req.sqe.opcode = 0x01;
  cmds[3].req.iov = &small_iov;
  cmds[3].req.iovcnt = 1;
  cmds[3].req.direction = DataDirection::host_to_controller;
  for (auto& c : cmds) {
    c.req.on_complete = on_complete;
    c.req.context = &c;
    if (!conn->submit(c.req)) c.done = true;  // the connection is already gone
  }

  fuzz::Cutter cutter(in.seed);
  fuzz::feed(r, peer, in.data + first, in.size - first, cutter);
  peer.shutdown_write();

  // As the handle's destructor called from a completion callback: close, then delete once the ring let go.
  r.defer([conn] { conn->release(); });
  auto all_done = [&] {
    for (auto& c : cmds)
      if (!c.done) return false;
    return true;
  };
  for (int turn = 0; !all_done(); ++turn) {
    if (turn == 2000) fuzz::stuck("host commands not completed 2 s after the connection was released");
    peer.drain();
    r.run_once(std::chrono::milliseconds(turn < 10 ? 0 : 1));
  }
  fuzz::settle(r);
  return 0;
}
