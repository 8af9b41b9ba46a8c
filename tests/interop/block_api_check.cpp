// block_api_check: the host library's block API (initiator/) against any NVMe-oF controller, for the interop
// suites, where the peer is the Linux kernel target. Several threads, each with its own reactor and I/O queue
// and its own region of the namespace:
//   - asynchronous writes of mixed sizes (one block up to the maximum transfer, some with FUA), up to 16 in
//     flight, scatter-gather on every other one; then asynchronous reads into other buffers, compared;
//   - the synchronous helpers: write (FUA) and read across more than one maximum transfer (split), Flush;
//   - Write Zeroes and Dataset Management (deallocate) where the controller's ONCS advertises them, else the
//     command must fail with Invalid Command Opcode (never a silent success);
//   - a read past the end of the namespace refused by the host (invalid_argument), the queue still usable.
// Exit status 0 when every check held, 1 otherwise (each failed check printed), 2 on a usage error.
#include <sys/uio.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <cstring>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "fabric/reactor.hpp"
#include "initiator/controller.hpp"
#include "initiator/io_queue.hpp"

namespace {

using nvmf::initiator::Controller;
using nvmf::initiator::ControllerOptions;
using nvmf::initiator::Error;
using nvmf::initiator::IoQueue;
using nvmf::initiator::Namespace;
using nvmf::initiator::SubmitResult;

std::atomic<unsigned> g_failures{0};

void check(bool ok, const std::string& what) {
  if (ok) return;
  ++g_failures;
  std::fprintf(stderr, "FAILED: %s\n", what.c_str());
}

// Every byte depends on the LBA and a seed, so a block landing at the wrong place, or stale, is caught.
void fill(std::uint8_t* buf, std::size_t bytes, std::uint64_t slba, std::uint32_t block_size, unsigned seed) {
  for (std::size_t i = 0; i < bytes; ++i) {
    const std::uint64_t lba = slba + i / block_size;
    buf[i] = static_cast<std::uint8_t>((lba * 131 + i * 7 + seed * 29) >> (i % 3));
  }
}

struct Pending {
  std::atomic<unsigned> left{0};
  unsigned errors = 0;
  nvmf::nvme::Status last{};
};

void on_done(void* arg, nvmf::nvme::Status status) {
  auto* p = static_cast<Pending*>(arg);
  if (!status.ok()) {
    ++p->errors;
    p->last = status;
  }
  --p->left;
}

void drain(IoQueue& q, Pending& p) {
  while (p.left > 0) q.process_completions(std::chrono::milliseconds(100));
}

// Submit, polling while the queue is full.
template <typename Submit>
bool submit(IoQueue& q, Pending& p, Submit&& s) {
  ++p.left;
  for (;;) {
    SubmitResult r = s();
    if (r == SubmitResult::ok) return true;
    if (r != SubmitResult::queue_full) {
      --p.left;
      check(false, std::string("submit: ") + to_string(r));
      return false;
    }
    q.process_completions(std::chrono::milliseconds(10));
  }
}

struct Region {
  std::uint64_t first;
  std::uint64_t blocks;
};

void async_round_trip(IoQueue& q, const Namespace& ns, Region region, unsigned thread) {
  const std::uint32_t bs = ns.block_size;
  const std::uint32_t sizes[] = {1, 8, 3, std::min<std::uint32_t>(32, ns.max_transfer_blocks),
                                 ns.max_transfer_blocks, 2};
  struct Io {
    std::uint64_t slba;
    std::uint32_t nlb;
    std::vector<std::uint8_t> out, in;
    iovec iov[2];
  };
  std::vector<Io> ios;
  std::uint64_t lba = region.first;
  for (unsigned i = 0;; ++i) {
    const std::uint32_t nlb = sizes[i % std::size(sizes)];
    if (lba + nlb > region.first + region.blocks) break;
    Io io{lba, nlb, std::vector<std::uint8_t>(std::size_t(nlb) * bs), std::vector<std::uint8_t>(std::size_t(nlb) * bs), {}};
    fill(io.out.data(), io.out.size(), lba, bs, thread + 1);
    ios.push_back(std::move(io));
    lba += nlb;
  }
  Pending p;
  for (std::size_t i = 0; i < ios.size(); ++i) {
    Io& io = ios[i];
    const bool fua = i % 3 == 0;
    if (i % 2 == 1 && io.nlb > 1) {  // two iovecs, split at a block boundary
      const std::size_t cut = std::size_t(io.nlb / 2) * bs;
      iovec v[2] = {{io.out.data(), cut}, {io.out.data() + cut, io.out.size() - cut}};
      std::memcpy(io.iov, v, sizeof v);
      submit(q, p, [&] { return q.writev(ns, io.slba, io.nlb, io.iov, 2, on_done, &p, fua); });
    } else {
      submit(q, p, [&] { return q.write(ns, io.slba, io.nlb, io.out.data(), on_done, &p, fua); });
    }
  }
  drain(q, p);
  check(p.errors == 0, "async writes: " + std::to_string(p.errors) + " failed, last " + p.last.to_string());
  for (std::size_t i = 0; i < ios.size(); ++i) {
    Io& io = ios[i];
    if (i % 2 == 0 && io.nlb > 1) {
      const std::size_t cut = bs;  // uneven split on reads
      iovec v[2] = {{io.in.data(), cut}, {io.in.data() + cut, io.in.size() - cut}};
      std::memcpy(io.iov, v, sizeof v);
      submit(q, p, [&] { return q.readv(ns, io.slba, io.nlb, io.iov, 2, on_done, &p); });
    } else {
      submit(q, p, [&] { return q.read(ns, io.slba, io.nlb, io.in.data(), on_done, &p); });
    }
  }
  drain(q, p);
  check(p.errors == 0, "async reads: " + std::to_string(p.errors) + " failed, last " + p.last.to_string());
  for (const Io& io : ios)
    check(io.in == io.out, "thread " + std::to_string(thread) + ": data read back at LBA " + std::to_string(io.slba) +
                               " (" + std::to_string(io.nlb) + " blocks) differs from what was written");
  std::printf("thread %u: %zu asynchronous writes and reads of 1..%u blocks verified\n", thread, ios.size(),
              ns.max_transfer_blocks);
}

void sync_checks(IoQueue& q, const Namespace& ns, Region region, unsigned thread, std::uint16_t oncs) {
  const std::uint32_t bs = ns.block_size;
  // Larger than one command's maximum: the helpers split it.
  const std::uint32_t nlb = std::min<std::uint64_t>(region.blocks, std::uint64_t(ns.max_transfer_blocks) * 2 + 5);
  std::vector<std::uint8_t> out(std::size_t(nlb) * bs), in(out.size());
  fill(out.data(), out.size(), region.first, bs, 100 + thread);
  nvmf::nvme::Status s = q.write_sync(ns, region.first, nlb, out.data(), /*fua=*/true);
  check(s.ok(), "write_sync: " + s.to_string());
  s = q.read_sync(ns, region.first, nlb, in.data());
  check(s.ok() && in == out, "read_sync after write_sync: " + s.to_string());
  s = q.flush_sync(ns);
  check(s.ok(), "flush_sync: " + s.to_string());

  const std::uint32_t zero_blocks = std::min<std::uint32_t>(nlb, 16);
  s = q.write_zeroes_sync(ns, region.first + 1, zero_blocks);
  if (oncs & NVME_CTRL_ONCS_WRITE_ZEROES) {
    check(s.ok(), "write_zeroes_sync: " + s.to_string());
    std::fill(out.begin() + bs, out.begin() + std::size_t(1 + zero_blocks) * bs, 0);
    s = q.read_sync(ns, region.first, nlb, in.data());
    check(s.ok() && in == out, "read after Write Zeroes: zeroes where written, neighbours untouched");
  } else {
    check(s.same_code(nvmf::nvme::Status::generic(NVME_SC_INVALID_OPCODE)),
          "Write Zeroes not in ONCS must fail with Invalid Command Opcode, got " + s.to_string());
  }
  nvme_dsm_range range{};
  range.cattr = 0;
  range.nlb = zero_blocks;
  range.slba = region.first + 1;
  s = q.deallocate_sync(ns, &range, 1);
  if (oncs & NVME_CTRL_ONCS_DSM)
    check(s.ok(), "deallocate_sync: " + s.to_string());
  else
    check(s.same_code(nvmf::nvme::Status::generic(NVME_SC_INVALID_OPCODE)),
          "Dataset Management not in ONCS must fail with Invalid Command Opcode, got " + s.to_string());

  Pending p;
  ++p.left;
  SubmitResult r = q.read(ns, ns.capacity_blocks, 1, in.data(), on_done, &p);
  check(r == SubmitResult::invalid_argument, std::string("read past the end: ") + to_string(r));
  s = q.read_sync(ns, region.first, 1, in.data());
  check(s.ok(), "queue usable after a refused command: " + s.to_string());
  std::printf("thread %u: synchronous write (FUA)/read of %u blocks, flush, write zeroes%s, deallocate%s\n", thread,
              nlb, (oncs & NVME_CTRL_ONCS_WRITE_ZEROES) ? "" : " (refused: not in ONCS)",
              (oncs & NVME_CTRL_ONCS_DSM) ? "" : " (refused: not in ONCS)");
}

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "block_api_check: %s\nusage: block_api_check -a ADDR -s PORT -n SUBNQN [-t tcp|rdma] [-g] [-G] "
               "[--threads N] [--nsid N]\n",
               why);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  ControllerOptions options;
  options.keep_alive_timeout_ms = 10000;
  options.ctrl_loss_timeout = std::chrono::milliseconds(0);  // a test: fail, do not retry
  unsigned threads = 2;
  std::uint32_t nsid = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(("missing value after " + a).c_str());
      return argv[++i];
    };
    if (a == "-a") options.traddr = value();
    else if (a == "-s") options.trsvcid = value();
    else if (a == "-n") options.subnqn = value();
    else if (a == "-t") options.transport = value();
    else if (a == "-g") options.header_digest = true;
    else if (a == "-G") options.data_digest = true;
    else if (a == "--threads") threads = static_cast<unsigned>(std::stoul(value()));
    else if (a == "--nsid") nsid = static_cast<std::uint32_t>(std::stoul(value()));
    else usage(("unknown argument " + a).c_str());
  }
  if (options.subnqn.empty() || threads == 0 || threads > 8) usage("need -n SUBNQN and 1..8 threads");
  options.nr_io_queues = static_cast<std::uint16_t>(threads);

  Error error;
  std::unique_ptr<Controller> ctrl = Controller::connect(options, &error);
  if (!ctrl) {
    std::fprintf(stderr, "connect: %s\n", error.to_string().c_str());
    return 1;
  }
  // A copy: an asynchronous event may refresh the controller's list while the workers run.
  std::optional<Namespace> ns;
  for (const Namespace& n : ctrl->namespaces())
    if (nsid == 0 || n.nsid == nsid) {
      ns = n;
      break;
    }
  if (!ns) {
    std::fprintf(stderr, "namespace %u not active on %s\n", nsid, options.subnqn.c_str());
    return 1;
  }
  const std::uint16_t oncs = ctrl->id().oncs;
  std::printf("connected to %s (controller %u), namespace %u: %llu blocks of %u bytes, max transfer %u blocks, "
              "ONCS %#x, %u threads, digests %s/%s\n",
              options.subnqn.c_str(), ctrl->cntlid(), ns->nsid, static_cast<unsigned long long>(ns->capacity_blocks),
              ns->block_size, ns->max_transfer_blocks, oncs, threads, options.header_digest ? "hdr" : "-",
              options.data_digest ? "data" : "-");

  const std::uint64_t per_thread = ns->capacity_blocks / threads;
  std::vector<std::thread> workers;
  std::atomic<unsigned> running{threads};
  for (unsigned t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      struct Done {
        std::atomic<unsigned>& n;
        ~Done() { --n; }
      } done{running};
      nvmf::fabric::Reactor reactor(t + 1);
      Error e;
      std::unique_ptr<IoQueue> q = ctrl->create_io_queue(reactor, &e);
      if (!q) {
        check(false, "thread " + std::to_string(t) + ": I/O queue: " + e.to_string());
        return;
      }
      // 2 MiB each for the asynchronous and the synchronous part: enough for every size, quick under emulation.
      const std::uint64_t part = std::min<std::uint64_t>(per_thread / 2, (2u << 20) / ns->block_size);
      async_round_trip(*q, *ns, Region{t * per_thread, part}, t);
      sync_checks(*q, *ns, Region{t * per_thread + per_thread / 2, part}, t, oncs);
    });
  }
  // The admin queue is this thread's: keep-alive and events run while the workers do I/O.
  while (running > 0) ctrl->poll(std::chrono::milliseconds(50));
  for (std::thread& w : workers) w.join();
  if (Error e = ctrl->shutdown()) check(false, "shutdown: " + e.to_string());
  if (g_failures) {
    std::fprintf(stderr, "block_api_check: %u check(s) failed\n", g_failures.load());
    return 1;
  }
  std::printf("block_api_check: all checks passed\n");
  return 0;
}
