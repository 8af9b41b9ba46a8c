// nvmf read, write, compare, flush, write-zeroes, dsm: one command through an I/O queue, as `nvme read` et al.
// Spelling follows nvme-cli except where its short options clash with the connection options:
// -S/--start-block (nvme-cli: -s), -N/--namespace-id (nvme-cli: -n). -c/--block-count is 0's based as in
// nvme-cli; -z/--data-size is in bytes; -d/--data names the file (default stdin/stdout). read and write take
// -a/-s more than once: several paths to one subsystem, through a multipath set (the best path, failover).
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "initiator/io_queue.hpp"
#include "initiator/multipath.hpp"
#include "utils/cli_common.hpp"
#include "utils/commands.hpp"

namespace nvmf::cli {

namespace {
struct IoArgs {
  ConnectArgs connect;
  std::uint32_t nsid = 0;
  std::uint64_t start_block = 0;
  std::optional<std::uint32_t> block_count;  // 0's based
  std::optional<std::uint64_t> data_size;
  std::string data;
  bool fua = false;
  bool deac = false;
};

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<std::uint8_t, FreeDeleter>;

Buffer allocate(std::size_t bytes) {
  void* p = std::aligned_alloc(4096, (bytes + 4095) & ~std::size_t(4095));
  if (!p) fail("out of memory for a " + std::to_string(bytes) + "-byte buffer");
  std::memset(p, 0, bytes);
  return Buffer(static_cast<std::uint8_t*>(p));
}

// A connected controller plus one I/O queue on its reactor (the queue goes before the controller shuts down),
// or with several paths a multipath set.
struct Session {
  std::unique_ptr<initiator::Controller> ctrl;
  std::unique_ptr<initiator::IoQueue> queue;
  std::unique_ptr<initiator::MultipathSet> set;
  const initiator::Namespace* ns = nullptr;

  explicit Session(IoArgs& a) {
    std::vector<initiator::ControllerOptions> paths = controller_paths(a.connect);
    if (paths.size() > 1) {
      initiator::Error e;
      for (auto& p : paths) p.nr_io_queues = 1;
      set = initiator::MultipathSet::connect(paths, &e);
      if (!set) fail("failed to connect: " + e.to_string());
      pick_namespace(set->controller(0), a.nsid);
      return;
    }
    a.connect.options.traddr = paths.front().traddr;
    a.connect.options.trsvcid = paths.front().trsvcid;
    a.connect.options.nr_io_queues = 1;
    ctrl = connect_or_exit(a.connect);
    pick_namespace(*ctrl, a.nsid);
    initiator::Error e;
    queue = ctrl->create_io_queue(ctrl->reactor(), &e);
    if (!queue) fail("I/O queue: " + e.to_string());
  }
  ~Session() {
    queue.reset();
    if (ctrl) ctrl->shutdown();
  }
  void pick_namespace(const initiator::Controller& c, std::uint32_t nsid) {
    if (c.namespaces().empty()) fail("the subsystem has no active namespace");
    ns = nsid ? c.find_namespace(nsid) : &c.namespaces().front();
    if (!ns) fail("namespace " + std::to_string(nsid) + " is not active");
  }
  nvme::Status read(std::uint64_t slba, std::uint32_t nlb, void* buf) {
    return set ? set->read_sync(ns->nsid, slba, nlb, buf) : queue->read_sync(*ns, slba, nlb, buf);
  }
  nvme::Status write(std::uint64_t slba, std::uint32_t nlb, const void* buf, bool fua) {
    return set ? set->write_sync(ns->nsid, slba, nlb, buf, fua) : queue->write_sync(*ns, slba, nlb, buf, fua);
  }
};

void add_io_options(CLI::App* cmd, IoArgs& a, bool data, Paths paths = Paths::one) {
  // -S is the start block here (before the connection options, which then spell --dhchap-secret long only).
  cmd->add_option("-S,--start-block", a.start_block, "First logical block")->capture_default_str();
  add_connect_options(cmd, a.connect, false, Spelling::nvme_cli, paths);
  cmd->add_option("-N,--namespace-id", a.nsid, "Namespace (default: the first active one)");
  cmd->add_option("-c,--block-count", a.block_count, "Number of blocks, 0's based (nvme-cli)");
  if (data) {
    cmd->add_option("-z,--data-size", a.data_size, "Bytes to transfer");
    cmd->add_option("-d,--data", a.data, "Data file (default: stdin for writes, stdout for reads)");
  }
}

// Blocks and bytes of the transfer from -c / -z (and for writes from the input file's size).
std::pair<std::uint32_t, std::uint64_t> transfer_size(const IoArgs& a, const initiator::Namespace& ns,
                                                      std::optional<std::uint64_t> input_size) {
  std::optional<std::uint64_t> bytes = a.data_size ? a.data_size : input_size;
  std::uint64_t nlb;
  if (a.block_count) {
    nlb = std::uint64_t(*a.block_count) + 1;
    if (bytes && *bytes > nlb * ns.block_size)
      fail("data size " + std::to_string(*bytes) + " exceeds " + std::to_string(nlb) + " blocks");
    if (!bytes) bytes = nlb * ns.block_size;
  } else if (bytes) {
    nlb = (*bytes + ns.block_size - 1) / ns.block_size;
  } else {
    fail("give --block-count or --data-size");
  }
  if (nlb == 0) fail("nothing to transfer");
  if (nlb > ns.capacity_blocks || a.start_block > ns.capacity_blocks - nlb)
    fail("blocks " + std::to_string(a.start_block) + "+" + std::to_string(nlb) + " exceed the namespace (" +
         std::to_string(ns.capacity_blocks) + " blocks)");
  if (nlb > UINT32_MAX) fail("transfer too large");
  return {static_cast<std::uint32_t>(nlb), *bytes};
}

std::vector<std::uint8_t> read_input(const std::string& path) {
  FILE* f = path.empty() || path == "-" ? stdin : std::fopen(path.c_str(), "rb");
  if (!f) fail("cannot open " + path + ": " + std::strerror(errno));
  std::vector<std::uint8_t> data;
  std::uint8_t chunk[65536];
  std::size_t n;
  while ((n = std::fread(chunk, 1, sizeof chunk, f)) > 0) data.insert(data.end(), chunk, chunk + n);
  if (f != stdin) std::fclose(f);
  return data;
}

void check(nvme::Status s, const char* what) {
  if (!s.ok()) fail(std::string(what) + ": " + s.to_string());
}

void add_read(CLI::App& app) {
  auto a = std::make_shared<IoArgs>();
  CLI::App* cmd = app.add_subcommand("read", "Read blocks into a file or stdout");
  add_io_options(cmd, *a, true, Paths::several);
  cmd->add_flag("-f,--force-unit-access", a->fua, "Unused for reads; accepted for nvme-cli compatibility");
  cmd->callback([a] {
    Session s(*a);
    auto [nlb, bytes] = transfer_size(*a, *s.ns, std::nullopt);
    Buffer buf = allocate(std::size_t(nlb) * s.ns->block_size);
    check(s.read(a->start_block, nlb, buf.get()), "read");
    FILE* out = a->data.empty() || a->data == "-" ? stdout : std::fopen(a->data.c_str(), "wb");
    if (!out) fail("cannot create " + a->data + ": " + std::strerror(errno));
    bool written = std::fwrite(buf.get(), 1, bytes, out) == bytes;
    if (out != stdout) written = std::fclose(out) == 0 && written;
    if (!written) fail("writing " + (a->data.empty() ? std::string("stdout") : a->data) + " failed");
    if (out != stdout) std::fprintf(stderr, "read: Success\n");
  });
}

void add_write(CLI::App& app) {
  auto a = std::make_shared<IoArgs>();
  CLI::App* cmd = app.add_subcommand("write", "Write blocks from a file or stdin (padded with zeroes)");
  add_io_options(cmd, *a, true, Paths::several);
  cmd->add_flag("-f,--force-unit-access", a->fua, "Set FUA: the write is durable when it completes");
  cmd->callback([a] {
    Session s(*a);
    std::vector<std::uint8_t> input = read_input(a->data);
    auto [nlb, bytes] = transfer_size(*a, *s.ns, input.size());
    if (input.size() < bytes) fail("input holds " + std::to_string(input.size()) + " bytes, " + std::to_string(bytes) + " asked");
    Buffer buf = allocate(std::size_t(nlb) * s.ns->block_size);
    std::memcpy(buf.get(), input.data(), bytes);
    check(s.write(a->start_block, nlb, buf.get(), a->fua), "write");
    std::fprintf(stderr, "write: Success\n");
  });
}

void add_compare(CLI::App& app) {
  auto a = std::make_shared<IoArgs>();
  CLI::App* cmd = app.add_subcommand("compare", "Compare blocks with a file (Compare command)");
  add_io_options(cmd, *a, true);
  cmd->callback([a] {
    Session s(*a);
    std::vector<std::uint8_t> input = read_input(a->data);
    auto [nlb, bytes] = transfer_size(*a, *s.ns, input.size());
    if (input.size() < bytes) fail("input holds " + std::to_string(input.size()) + " bytes, " + std::to_string(bytes) + " asked");
    Buffer buf = allocate(std::size_t(nlb) * s.ns->block_size);
    std::memcpy(buf.get(), input.data(), bytes);
    check(s.queue->compare_sync(*s.ns, a->start_block, nlb, buf.get()), "compare");
    std::fprintf(stderr, "compare: Success\n");
  });
}

void add_flush(CLI::App& app) {
  auto a = std::make_shared<IoArgs>();
  CLI::App* cmd = app.add_subcommand("flush", "Flush the namespace's volatile write cache");
  add_connect_options(cmd, a->connect, false);
  cmd->add_option("-N,--namespace-id", a->nsid, "Namespace (default: the first active one)");
  cmd->callback([a] {
    Session s(*a);
    check(s.queue->flush_sync(*s.ns), "flush");
    std::fprintf(stderr, "flush: Success\n");
  });
}

void add_write_zeroes(CLI::App& app) {
  auto a = std::make_shared<IoArgs>();
  CLI::App* cmd = app.add_subcommand("write-zeroes", "Write Zeroes over a block range");
  add_io_options(cmd, *a, false);
  cmd->add_flag("--deac", a->deac, "Set DEAC: the controller may deallocate instead of writing");
  cmd->callback([a] {
    Session s(*a);
    auto [nlb, bytes] = transfer_size(*a, *s.ns, std::nullopt);
    (void)bytes;
    check(s.queue->write_zeroes_sync(*s.ns, a->start_block, nlb, a->deac), "write-zeroes");
    std::fprintf(stderr, "write-zeroes: Success\n");
  });
}

void add_dsm(CLI::App& app) {
  auto a = std::make_shared<IoArgs>();
  auto slbs = std::make_shared<std::vector<std::uint64_t>>();
  auto blocks = std::make_shared<std::vector<std::uint32_t>>();
  auto ad = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("dsm", "Dataset Management (deallocate ranges)");
  add_connect_options(cmd, a->connect, false);
  cmd->add_option("-N,--namespace-id", a->nsid, "Namespace (default: the first active one)");
  cmd->add_option("--slbs", *slbs, "Comma-separated starting blocks")->delimiter(',')->required();
  cmd->add_option("--blocks", *blocks, "Comma-separated block counts")->delimiter(',')->required();
  cmd->add_flag("--ad", *ad, "Deallocate attribute")->required();
  cmd->callback([a, slbs, blocks] {
    if (slbs->size() != blocks->size()) fail("--slbs and --blocks need the same number of entries");
    if (slbs->empty() || slbs->size() > 256) fail("1 to 256 ranges");
    std::vector<nvme_dsm_range> ranges(slbs->size());
    for (std::size_t i = 0; i < ranges.size(); ++i) ranges[i] = nvme_dsm_range{0, (*blocks)[i], (*slbs)[i]};
    Session s(*a);
    check(s.queue->deallocate_sync(*s.ns, ranges.data(), static_cast<std::uint32_t>(ranges.size())), "dsm");
    std::fprintf(stderr, "dsm: Success\n");
  });
}
}  // namespace

void add_io_commands(CLI::App& app) {
  add_read(app);
  add_write(app);
  add_compare(app);
  add_flush(app);
  add_write_zeroes(app);
  add_dsm(app);
}

}  // namespace nvmf::cli
