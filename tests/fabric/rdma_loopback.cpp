// rdma_loopback: our NVMe/RDMA controller side (fabric/rdma/listener, controller_queue) under our host side, for
// the interop VM (needs an RDMA device: soft-RoCE there). The controller runs a tiny RAM-disk QueueHandler that
// speaks only Connect, Read, Write and Flush: enough to drive every transport path through the public seam
// (connect request validation and reject, in-capsule data, RDMA READ within the host's IRD, RDMA WRITE + SEND,
// error statuses from the SGL parser, disconnect -> on_queue_closed -> queue freed). Exit 0 only if all pass.
//
//   rdma_loopback TRADDR TRSVCID
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "fabric/rdma/host_queue.hpp"
#include "fabric/rdma/listener.hpp"
#include "fabric/reactor.hpp"
#include "nvme/fabrics.hpp"

using namespace nvmf;
using fabric::ControllerRequest;
using fabric::DataDirection;
using fabric::HostRequest;
using nvme::Status;

namespace {

constexpr std::uint32_t kBlock = 512;
constexpr std::size_t kDiskBytes = 4 << 20;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "rdma_loopback: FAIL: %s\n", what.c_str());
  std::exit(1);
}
void step(const std::string& what) { std::printf("rdma_loopback: %s\n", what.c_str()); std::fflush(stdout); }

std::atomic<int> g_handlers{0};
std::atomic<int> g_closed{0};
std::atomic<int> g_max_reads_waiting{0};
std::atomic<int> g_in_capsule_writes{0};
std::atomic<int> g_unaligned_in_capsule_writes{0};  ///< data not on a 4 KiB boundary (receive_layout.hpp)

class RamHandler final : public fabric::QueueHandler {
 public:
  RamHandler(fabric::ControllerQueue& queue, std::vector<std::uint8_t>& disk) : queue_(queue), disk_(disk) {
    ++g_handlers;
  }
  ~RamHandler() override { --g_handlers; }

  void on_command(ControllerRequest& req) override {
    const auto& sqe = req.sqe;
    if (sqe.opcode == nvme::kFabricsOpcode && sqe.bytes()[4] == nvme_fabrics_type_connect) {
      return req.data_ready ? on_data_fetched(req) : queue_.fetch_data(req);
    }
    switch (sqe.opcode) {
      case nvme_cmd_flush: return done(req, Status::success());
      case nvme_cmd_write:
        if (!in_range(req)) return done(req, Status::generic(NVME_SC_LBA_RANGE));
        ++fetching_;
        g_max_reads_waiting = std::max(g_max_reads_waiting.load(), fetching_);
        if (req.data_ready) {
          ++g_in_capsule_writes;
          if (reinterpret_cast<std::uintptr_t>(req.data) % 4096 != 0) ++g_unaligned_in_capsule_writes;
        }
        return req.data_ready ? on_data_fetched(req) : queue_.fetch_data(req);
      case nvme_cmd_read:
        if (!in_range(req)) return done(req, Status::generic(NVME_SC_LBA_RANGE));
        std::memcpy(req.data, disk_.data() + offset(req), req.data_length);
        return done(req, Status::success());
      default: return done(req, Status::generic(NVME_SC_INVALID_OPCODE));
    }
  }
  void on_data_fetched(ControllerRequest& req) override {
    if (req.sqe.opcode == nvme::kFabricsOpcode) {
      auto connect = nvme::fabrics_view<nvme::ConnectCommand>(req.sqe);
      fabric::QueueParams p;
      p.qid = connect.qid;
      p.depth = static_cast<std::uint16_t>(connect.sqsize + 1);
      queue_.set_params(p);
      req.cqe.dw0 = 1;  // CNTLID
      return done(req, req.status());
    }
    --fetching_;
    if (req.status().ok()) std::memcpy(disk_.data() + offset(req), req.data, req.data_length);
    done(req, req.status());
  }
  void on_queue_closed() override { ++g_closed; }

 private:
  static std::size_t offset(const ControllerRequest& req) { return req.sqe.slba() * kBlock; }
  bool in_range(const ControllerRequest& req) const {
    const std::uint64_t blocks = (req.sqe.cdw12 & 0xFFFF) + 1;
    return blocks * kBlock == req.data_length && (req.sqe.slba() + blocks) * kBlock <= disk_.size();
  }
  void done(ControllerRequest& req, Status s) {
    req.set_status(s);
    queue_.complete(req);
  }
  fabric::ControllerQueue& queue_;
  std::vector<std::uint8_t>& disk_;
  int fetching_ = 0;
};

class RamFactory final : public fabric::QueueHandlerFactory {
 public:
  std::unique_ptr<fabric::QueueHandler> make_handler(fabric::ControllerQueue& queue) override {
    return std::make_unique<RamHandler>(queue, disk_);
  }
  std::vector<std::uint8_t> disk_ = std::vector<std::uint8_t>(kDiskBytes);
};

// ------------------------------------------------------------------------------------------ host helpers

nvme::Cqe run(fabric::Reactor& reactor, fabric::HostQueue& queue, nvme::Sqe sqe, DataDirection dir,
              const iovec* iov, std::uint32_t iovcnt, const char* what) {
  HostRequest req;
  bool done = false;
  req.sqe = sqe;
  req.direction = dir;
  req.iov = iov;
  req.iovcnt = iovcnt;
  req.context = &done;
  req.on_complete = [](HostRequest& r) { *static_cast<bool*>(r.context) = true; };
  if (!queue.submit(req)) die(std::string(what) + ": submit refused");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!done) {
    if (std::chrono::steady_clock::now() > deadline) die(std::string(what) + ": no completion in 30 s");
    reactor.run_once(std::chrono::milliseconds(100));
  }
  return req.cqe;
}

nvme::Sqe io(std::uint8_t opcode, std::uint64_t slba, std::uint32_t blocks) {
  nvme::Sqe s{};
  s.opcode = opcode;
  s.nsid = 1;
  s.cdw10 = static_cast<std::uint32_t>(slba);
  s.cdw11 = static_cast<std::uint32_t>(slba >> 32);
  s.cdw12 = blocks - 1;
  return s;
}

void expect_ok(const nvme::Cqe& cqe, const char* what) {
  if (!cqe.get_status().ok()) die(std::string(what) + ": " + cqe.get_status().to_string());
}

bool wait_until(const std::function<bool()>& cond, int seconds) {
  for (int i = 0; i < seconds * 20; ++i) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return cond();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s TRADDR TRSVCID\n", argv[0]);
    return 2;
  }
  RamFactory factory;
  fabric::ReactorGroup group({0});
  fabric::TransportLimits limits;
  limits.max_queue_depth = 64;
  limits.in_capsule_data_size = 4096;
  limits.max_io_size = 128 * 1024;
  fabric::ListenAddress address;
  address.trtype = fabric::TransportType::rdma;
  address.traddr = argv[1];
  address.trsvcid = argv[2];
  auto listener = fabric::listen_rdma(group, address, limits, factory);
  group.start();
  step("listening on " + address.to_string());

  fabric::Reactor reactor(1);
  fabric::HostQueueOptions options;
  options.traddr = argv[1];
  options.trsvcid = argv[2];
  std::string error;

  // 1. A queue deeper than the controller allows is rejected in the CM exchange with the NVMe/RDMA status.
  options.queue_depth = 65;
  if (fabric::connect_rdma_host_queue(reactor, options, 1, 1, &error)) die("depth 65 was accepted");
  if (error.find("invalid HSQSIZE (4)") == std::string::npos) die("unexpected reject reason: " + error);
  step("depth 65 rejected: " + error);

  // 2. A queue at the limit: Connect (1 KiB of data by RDMA READ), then I/O in every path.
  options.queue_depth = 64;
  auto q = fabric::connect_rdma_host_queue(reactor, options, 1, 1, &error);
  if (!q) die("connect: " + error);
  if (q->controller_receive_queue_size() != 64) die("CRQSIZE " + std::to_string(q->controller_receive_queue_size()));
  alignas(4096) static nvmf_connect_data data;
  nvme::ConnectCommand c{};
  c.opcode = nvme::kFabricsOpcode;
  c.fctype = nvme_fabrics_type_connect;
  c.qid = 1;
  c.sqsize = 63;
  iovec data_iov{&data, sizeof data};
  auto cqe = run(reactor, *q, nvme::to_sqe(c), DataDirection::host_to_controller, &data_iov, 1, "Connect");
  expect_ok(cqe, "Connect");
  if (cqe.dw0 != 1 || cqe.sqid != 1) die("Connect response dw0/sqid wrong");
  step("queue connected, Connect data fetched by RDMA READ");

  std::mt19937 rng(7);
  q->set_in_capsule_limit(4096);
  std::vector<std::uint8_t> small(4096), big(128 * 1024), back(128 * 1024);
  for (auto& b : small) b = static_cast<std::uint8_t>(rng());
  for (auto& b : big) b = static_cast<std::uint8_t>(rng());
  iovec v{small.data(), small.size()};
  expect_ok(run(reactor, *q, io(nvme_cmd_write, 8, 8), DataDirection::host_to_controller, &v, 1, "in-capsule write"),
            "in-capsule write");
  if (std::memcmp(factory.disk_.data() + 8 * kBlock, small.data(), small.size()) != 0)
    die("in-capsule write did not land");
  if (g_in_capsule_writes.load() != 1 || g_unaligned_in_capsule_writes.load() != 0)
    die("in-capsule write data not received on a 4 KiB boundary (" + std::to_string(g_in_capsule_writes.load()) +
        " in-capsule writes, " + std::to_string(g_unaligned_in_capsule_writes.load()) + " unaligned)");
  v = {big.data(), big.size()};
  expect_ok(run(reactor, *q, io(nvme_cmd_write, 100, 256), DataDirection::host_to_controller, &v, 1, "keyed write"),
            "keyed write");
  v = {back.data(), back.size()};
  expect_ok(run(reactor, *q, io(nvme_cmd_read, 100, 256), DataDirection::controller_to_host, &v, 1, "keyed read"),
            "keyed read");
  if (back != big) die("128 KiB read back differs");
  step("in-capsule write (data 4 KiB-aligned), 128 KiB keyed write (RDMA READ) and read (RDMA WRITE) verified");

  // 3. Errors: a transfer beyond MDTS is refused by the SGL parser; a handler status comes back as is.
  std::vector<std::uint8_t> huge(256 * 1024);
  v = {huge.data(), huge.size()};
  cqe = run(reactor, *q, io(nvme_cmd_read, 0, 512), DataDirection::controller_to_host, &v, 1, "oversized read");
  if (!cqe.get_status().same_code(Status::generic(NVME_SC_SGL_INVALID_DATA)))
    die("oversized read: " + cqe.get_status().to_string());
  v = {small.data(), small.size()};
  cqe = run(reactor, *q, io(nvme_cmd_read, kDiskBytes / kBlock, 8), DataDirection::controller_to_host, &v, 1, "LBA");
  if (!cqe.get_status().same_code(Status::generic(NVME_SC_LBA_RANGE))) die("out of range read not refused");
  step("oversized transfer -> Data SGL Length Invalid; out-of-range -> LBA Out of Range");

  // 4. 64 writes in flight (more than the RDMA READ depth: reads wait for credits), then 64 reads.
  std::vector<std::vector<std::uint8_t>> bufs(64, std::vector<std::uint8_t>(16384));
  std::vector<HostRequest> reqs(64);
  std::vector<iovec> iovs(64);
  int done = 0;
  for (int round = 0; round < 2; ++round) {
    done = 0;
    for (int i = 0; i < 64; ++i) {
      if (round == 0)
        for (auto& b : bufs[i]) b = static_cast<std::uint8_t>(rng());
      else
        std::fill(bufs[i].begin(), bufs[i].end(), 0);
      iovs[i] = {bufs[i].data(), bufs[i].size()};
      reqs[i] = HostRequest{};
      reqs[i].sqe = io(round == 0 ? nvme_cmd_write : nvme_cmd_read, 1000 + 32 * i, 32);
      reqs[i].direction = round == 0 ? DataDirection::host_to_controller : DataDirection::controller_to_host;
      reqs[i].iov = &iovs[i];
      reqs[i].iovcnt = 1;
      reqs[i].context = &done;
      reqs[i].on_complete = [](HostRequest& r) {
        if (!r.status().ok()) die("concurrent I/O: " + r.status().to_string());
        ++*static_cast<int*>(r.context);
      };
      if (!q->submit(reqs[i])) die("concurrent submit " + std::to_string(i) + " refused");
    }
    while (done < 64) reactor.run_once(std::chrono::milliseconds(100));
  }
  for (int i = 0; i < 64; ++i)
    if (std::memcmp(bufs[i].data(), factory.disk_.data() + (1000 + 32 * i) * kBlock, 16384) != 0)
      die("concurrent I/O " + std::to_string(i) + " differs");
  step("64 writes and 64 reads in flight verified (up to " +
       std::to_string(g_max_reads_waiting.load()) + " writes waiting for their data at once)");

  // 5. Disconnect: the controller's handler hears on_queue_closed and the queue frees itself.
  if (g_handlers.load() != 1) die("expected one live handler, have " + std::to_string(g_handlers.load()));
  q.reset();
  // Let the host reactor return the cancelled polls of the queue's event channels (their watches free themselves).
  for (int i = 0; i < 5; ++i) reactor.run_once(std::chrono::milliseconds(10));
  if (!wait_until([] { return g_closed.load() == 1 && g_handlers.load() == 0; }, 20))
    die("after disconnect: closed " + std::to_string(g_closed.load()) + ", live handlers " +
        std::to_string(g_handlers.load()));
  step("host disconnect -> on_queue_closed, controller queue freed");

  listener->stop();
  group.stop();
  step("PASS");
  return 0;
}
