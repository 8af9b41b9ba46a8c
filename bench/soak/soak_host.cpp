// nvmf-soak-host: the host side of the soak (bench/soak/soak.py). Each thread owns several controllers and
// cycles them until the duration is over: connect (admin queue plus every I/O queue), verified I/O on every queue,
// then queue pairs destroyed and the controller disconnected. Everything goes through libnvmf-host's C API, the
// way an application (and the fio engine) uses it, so associations are set up and torn down as often as possible.
//
// Verification: every (thread, controller slot, queue) owns a region of namespace 1 and writes it with a pattern
// seeded by its cycle number; the read-back must match, and the next cycle (a new association) first reads the
// region and must find the previous cycle's pattern, so data written over one association is checked over the next.
//
// Prints one JSON line of counters; exits 0 only when nothing failed and every thread completed a cycle.
#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "nvmf/host.h"

namespace {

struct Options {
  std::string traddr = "127.0.0.1";
  std::string trsvcid;
  std::string subnqn;
  std::string hostnqn;
  unsigned threads = 8;
  unsigned controllers = 8;  // per thread
  unsigned io_queues = 4;
  unsigned region_blocks = 16;
  unsigned rounds = 2;  // write + read-back rounds per queue per association
  double duration_s = 600;
};

struct Counters {
  std::atomic<std::uint64_t> cycles{0}, associations{0}, ios{0}, verify_errors{0}, unexpected_status{0};
};

std::mutex report_mutex;
constexpr int kMaxReports = 20;
std::atomic<int> reports{0};

void report(Counters& c, bool verify, const char* what, int status) {
  (verify ? c.verify_errors : c.unexpected_status)++;
  if (reports++ >= kMaxReports) return;
  std::lock_guard lock(report_mutex);
  std::fprintf(stderr, "soak-host: %s%s%s\n", what, verify || status != 0 ? ": " : "",
               verify ? "data mismatch" : status != 0 ? nvmf_strerror(status) : "");
}

// The word at `index` of a region's pattern: different for every region, cycle and offset.
std::uint64_t pattern_word(std::uint64_t region, std::uint64_t cycle, std::uint64_t index) {
  std::uint64_t x = (region << 40) ^ (cycle << 20) ^ index ^ 0x9e3779b97f4a7c15ull;
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  return x ^ (x >> 29);
}

void fill(std::vector<std::uint64_t>& buf, std::uint64_t region, std::uint64_t cycle) {
  for (std::size_t i = 0; i < buf.size(); ++i) buf[i] = pattern_word(region, cycle, i);
}

bool matches(const std::vector<std::uint64_t>& buf, std::uint64_t region, std::uint64_t cycle) {
  for (std::size_t i = 0; i < buf.size(); ++i)
    if (buf[i] != pattern_word(region, cycle, i)) return false;
  return true;
}

struct Slot {
  nvmf_ctrl* ctrl = nullptr;
  std::vector<nvmf_qpair*> qpairs;
};

class Worker {
 public:
  Worker(const Options& o, Counters& c, unsigned index) : o_(o), c_(c), index_(index) {}

  /// Cycles until the deadline; returns the number of completed cycles.
  std::uint64_t run(std::chrono::steady_clock::time_point deadline) {
    std::vector<std::uint64_t> cycle_of_region(o_.controllers * o_.io_queues, 0);  // 0: never written
    std::uint64_t cycle = 1;
    for (; std::chrono::steady_clock::now() < deadline; ++cycle) {
      std::vector<Slot> slots(o_.controllers);
      for (unsigned s = 0; s < o_.controllers; ++s) connect(slots[s]);
      for (unsigned s = 0; s < o_.controllers; ++s) {
        if (!slots[s].ctrl) continue;
        for (unsigned q = 0; q < slots[s].qpairs.size(); ++q)
          exercise(slots[s], slots[s].qpairs[q], s * o_.io_queues + q, cycle_of_region, cycle);
        nvmf_ctrl_process_admin(slots[s].ctrl, 0);  // keep-alive and namespace-change notices
      }
      for (Slot& slot : slots) disconnect(slot);
      c_.cycles++;
    }
    return cycle - 1;
  }

 private:
  void connect(Slot& slot) {
    nvmf_ctrl_opts opts;
    nvmf_ctrl_opts_init(&opts, sizeof opts);
    opts.traddr = o_.traddr.c_str();
    opts.trsvcid = o_.trsvcid.c_str();
    opts.subnqn = o_.subnqn.c_str();
    opts.hostnqn = o_.hostnqn.empty() ? nullptr : o_.hostnqn.c_str();
    opts.nr_io_queues = static_cast<std::uint16_t>(o_.io_queues);
    opts.io_queue_size = 32;
    opts.ctrl_loss_tmo_s = 0;  // a soak must see a lost association as an error, not ride over it
    opts.admin_thread = false;  // this thread drives its controllers (no thread per association)
    char err[256] = "";
    if (int rc = nvmf_ctrl_connect(&opts, &slot.ctrl, err, sizeof err); rc != 0) {
      report(c_, false, ("connect: " + std::string(err)).c_str(), rc);
      slot.ctrl = nullptr;
      return;
    }
    c_.associations++;
    if (nvmf_ctrl_get_io_queues(slot.ctrl) < o_.io_queues) report(c_, false, "fewer I/O queues granted", 0);
    for (unsigned q = 0; q < o_.io_queues; ++q) {
      nvmf_qpair* qp = nvmf_qpair_create(slot.ctrl, 0, err, sizeof err);
      if (!qp) {
        report(c_, false, ("queue pair: " + std::string(err)).c_str(), -ENOTCONN);
        continue;
      }
      slot.qpairs.push_back(qp);
    }
  }

  void exercise(Slot& slot, nvmf_qpair* qp, unsigned local_region, std::vector<std::uint64_t>& cycle_of_region,
                std::uint64_t cycle) {
    const nvmf_ns* ns = nvmf_ctrl_get_ns(slot.ctrl, 1);
    if (!ns) return report(c_, false, "namespace 1 missing", 0);
    const std::uint32_t bs = nvmf_ns_get_block_size(ns);
    const std::uint64_t region = index_ * o_.controllers * o_.io_queues + local_region;
    const std::uint64_t slba = region * o_.region_blocks;
    if ((slba + o_.region_blocks) > nvmf_ns_get_num_blocks(ns)) return report(c_, false, "namespace too small", 0);
    std::vector<std::uint64_t> out(o_.region_blocks * bs / 8), in(out.size());
    // What the previous association wrote must still be there.
    if (std::uint64_t previous = cycle_of_region[local_region]; previous != 0) {
      if (int rc = nvmf_qpair_read_sync(qp, ns, in.data(), slba, o_.region_blocks); rc != 0)
        return report(c_, false, "read", rc);
      c_.ios++;
      if (!matches(in, region, previous)) report(c_, true, "read-back across associations", 0);
    }
    for (unsigned round = 0; round < o_.rounds; ++round) {
      const std::uint64_t seed = cycle * o_.rounds + round;
      fill(out, region, seed);
      cycle_of_region[local_region] = 0;  // unknown until the write is read back
      if (int rc = nvmf_qpair_write_sync(qp, ns, out.data(), slba, o_.region_blocks, 0); rc != 0)
        return report(c_, false, "write", rc);
      if (int rc = nvmf_qpair_read_sync(qp, ns, in.data(), slba, o_.region_blocks); rc != 0)
        return report(c_, false, "read", rc);
      c_.ios += 2;
      if (!matches(in, region, seed)) return report(c_, true, "read-back", 0);
      cycle_of_region[local_region] = seed;
    }
  }

  void disconnect(Slot& slot) {
    for (nvmf_qpair* qp : slot.qpairs) nvmf_qpair_destroy(qp);
    slot.qpairs.clear();
    if (!slot.ctrl) return;
    if (int rc = nvmf_ctrl_disconnect(slot.ctrl); rc != 0) report(c_, false, "disconnect (shutdown)", rc);
    slot.ctrl = nullptr;
  }

  const Options& o_;
  Counters& c_;
  unsigned index_;
};

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"Soak host: cycles NVMe/TCP associations with verified I/O until the duration is over"};
  app.add_option("--traddr", o.traddr, "Target address")->capture_default_str();
  app.add_option("--trsvcid", o.trsvcid, "Target port")->required();
  app.add_option("--subnqn", o.subnqn, "Subsystem NQN (namespace 1 is used)")->required();
  app.add_option("--hostnqn", o.hostnqn, "Host NQN (default: the library's)");
  app.add_option("--threads", o.threads, "Host threads")->capture_default_str()->check(CLI::Range(1u, 256u));
  app.add_option("--controllers", o.controllers, "Associations per thread")->capture_default_str()
      ->check(CLI::Range(1u, 64u));
  app.add_option("--io-queues", o.io_queues, "I/O queues per association")->capture_default_str()
      ->check(CLI::Range(1u, 64u));
  app.add_option("--region-blocks", o.region_blocks, "Blocks each queue writes and verifies")->capture_default_str()
      ->check(CLI::Range(1u, 32u));
  app.add_option("--duration", o.duration_s, "Seconds to run")->capture_default_str()->check(CLI::Range(1.0, 86400.0));
  CLI11_PARSE(app, argc, argv);

  Counters c;
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                            std::chrono::duration<double>(o.duration_s));
  std::vector<std::thread> threads;
  std::vector<std::uint64_t> cycles_of_thread(o.threads, 0);
  for (unsigned t = 0; t < o.threads; ++t)
    threads.emplace_back([&o, &c, &cycles_of_thread, t, deadline] { cycles_of_thread[t] = Worker(o, c, t).run(deadline); });
  for (auto& t : threads) t.join();

  std::printf(
      "{\"threads\": %u, \"controllers_per_thread\": %u, \"io_queues\": %u, \"cycles\": %llu, \"associations\": %llu, "
      "\"ios\": %llu, \"verify_errors\": %llu, \"unexpected_status\": %llu}\n",
      o.threads, o.controllers, o.io_queues, static_cast<unsigned long long>(c.cycles.load()),
      static_cast<unsigned long long>(c.associations.load()), static_cast<unsigned long long>(c.ios.load()),
      static_cast<unsigned long long>(c.verify_errors.load()),
      static_cast<unsigned long long>(c.unexpected_status.load()));
  std::fflush(stdout);
  bool every_thread_cycled = true;
  for (std::uint64_t n : cycles_of_thread) every_thread_cycled = every_thread_cycled && n > 0;
  if (!every_thread_cycled) std::fprintf(stderr, "soak-host: a thread completed no cycle\n");
  bool ok = c.verify_errors == 0 && c.unexpected_status == 0 && every_thread_cycled;
  return ok ? 0 : 1;
}
