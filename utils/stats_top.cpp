// `nvmf target-ctl top`: asks the target for its statistics every interval and shows the rates between two
// replies, per namespace and per controller. Plain ANSI escapes (alternate screen, home, clear to end) and a raw
// terminal (no echo, no line buffering) so one key quits; the terminal is restored on q, on SIGINT/SIGTERM/
// SIGHUP and on errors. Without a terminal (a pipe, a test) it prints one block per interval.
#include <poll.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <map>
#include <string>
#include <tuple>

#include "target/stats_json.hpp"
#include "utils/cmd_stats.hpp"

namespace nvmf::cli {

namespace {
using nlohmann::json;
using target::IoSnapshot;
using target::OpClass;

volatile std::sig_atomic_t g_quit_signal = 0;
void on_signal(int sig) { g_quit_signal = sig; }

/// Raw mode for the lifetime of the object; the destructor (any exit path) puts the terminal back.
class RawTerminal {
 public:
  RawTerminal() {
    if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_) != 0) return;
    termios raw = saved_;
    raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);  // ISIG stays: Ctrl-C is a signal we handle
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    active_ = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
    if (active_) std::fputs("\x1b[?1049h\x1b[?25l", stdout);  // alternate screen, hide cursor
  }
  ~RawTerminal() {
    if (!active_) return;
    std::fputs("\x1b[?25h\x1b[?1049l", stdout);
    std::fflush(stdout);
    tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
  }
  bool active() const { return active_; }

 private:
  termios saved_{};
  bool active_ = false;
};

/// Waits up to `seconds` for a key; true when it was q or Q (or stdin closed on a terminal).
bool wait_for_quit(double seconds, bool terminal) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  for (;;) {
    if (g_quit_signal) return true;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    if (!terminal) {
      poll(nullptr, 0, static_cast<int>(left.count()));
      continue;
    }
    pollfd p{STDIN_FILENO, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;  // timeout, or a signal (checked above)
    char c = 0;
    const ssize_t n = ::read(STDIN_FILENO, &c, 1);
    if (n == 0) return true;
    if (n == 1 && (c == 'q' || c == 'Q')) return true;
  }
}

using RowKey = std::tuple<std::string, int, unsigned>;  ///< (subsystem, 0 namespace / 1 controller, id)

struct Row {
  std::string label;
  IoSnapshot stats;
};

std::map<RowKey, Row> rows_of(const json& reply) {
  std::map<RowKey, Row> rows;
  for (const json& sub : reply.at("subsystems")) {
    const std::string nqn = sub.at("nqn").get<std::string>();
    for (const json& ns : sub.at("namespaces")) {
      const unsigned nsid = ns.at("nsid").get<unsigned>();
      rows[{nqn, 0, nsid}] = {"ns " + std::to_string(nsid), target::io_snapshot_from_json(ns)};
    }
    for (const json& c : sub.at("controllers")) {
      const unsigned cntlid = c.at("cntlid").get<unsigned>();
      std::string label = "ctrl " + std::to_string(cntlid);
      if (c.contains("host")) label += " " + c["host"].get<std::string>();
      rows[{nqn, 1, cntlid}] = {label, target::io_snapshot_from_json(c)};
    }
  }
  return rows;
}

std::string latency_text(const target::LatencySnapshot& l) {
  if (l.count == 0) return "-";
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.0f/%.0f", static_cast<double>(l.quantile_ns(0.5)) / 1000.0,
                static_cast<double>(l.quantile_ns(0.99)) / 1000.0);
  return buf;
}

void render(const std::map<RowKey, Row>& now, const std::map<RowKey, Row>& before, double seconds, bool terminal) {
  std::string out = terminal ? "\x1b[H" : "";
  char line[512];
  const std::time_t t = std::time(nullptr);
  char clock[16];
  std::strftime(clock, sizeof clock, "%H:%M:%S", std::localtime(&t));
  std::snprintf(line, sizeof line, "nvmf target-ctl top - %s - every %.1fs%s\n", clock, seconds,
                terminal ? " - q quits" : "");
  out += line;
  std::string subsystem;
  for (const auto& [key, row] : now) {
    if (std::get<0>(key) != subsystem) {
      subsystem = std::get<0>(key);
      out += (terminal ? "\x1b[K\n\x1b[7m" : "\n") + subsystem + (terminal ? "\x1b[0m\x1b[K\n" : "\n");
      std::snprintf(line, sizeof line, "%-40s %10s %10s %9s %9s %15s %15s %8s %6s\n", "", "read IOPS", "write IOPS",
                    "read MiB/s", "writ MiB/s", "read p50/p99 us", "write p50/p99", "errors/s", "queue");
      out += line;
    }
    auto it = before.find(key);
    const IoSnapshot d = it == before.end() ? row.stats : stats_delta(row.stats, it->second.stats);
    const double per_s = seconds > 0 ? 1.0 / seconds : 0;
    // Commands in flight are counted per queue (so per controller), not per namespace.
    const std::string queued = std::get<1>(key) == 0 ? "-" : std::to_string(row.stats.in_flight);
    std::snprintf(line, sizeof line, "%-40.40s %10.0f %10.0f %9.1f %9.1f %15s %15s %8.0f %6s", row.label.c_str(),
                  static_cast<double>(d.op(OpClass::read).commands) * per_s,
                  static_cast<double>(d.op(OpClass::write).commands) * per_s,
                  static_cast<double>(d.op(OpClass::read).bytes) * per_s / (1024.0 * 1024.0),
                  static_cast<double>(d.op(OpClass::write).bytes) * per_s / (1024.0 * 1024.0),
                  latency_text(d.op(OpClass::read).latency).c_str(), latency_text(d.op(OpClass::write).latency).c_str(),
                  static_cast<double>(d.error_count()) * per_s, queued.c_str());
    out += line;
    out += terminal ? "\x1b[K\n" : "\n";
  }
  if (now.empty()) out += "no namespaces and no controllers\n";
  if (terminal) out += "\x1b[J";  // clear what a longer previous view left below
  std::fputs(out.c_str(), stdout);
  std::fflush(stdout);
}
}  // namespace

int run_top(const std::string& socket, double interval_s, unsigned iterations) {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  struct sigaction old_int {}, old_term {}, old_hup {};
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  sigaction(SIGHUP, &sa, &old_hup);
  int rc = 0;
  {
    std::map<RowKey, Row> before = rows_of(fetch_stats(socket));
    auto before_time = std::chrono::steady_clock::now();
    RawTerminal terminal;
    for (unsigned n = 0; iterations == 0 || n < iterations; ++n) {
      if (wait_for_quit(interval_s, terminal.active())) break;
      std::map<RowKey, Row> now;
      try {
        now = rows_of(fetch_stats(socket));
      } catch (const CLI::RuntimeError&) {  // refused: fetch_stats said why
        rc = 1;
        break;
      } catch (const std::exception& e) {  // the target went away
        rc = 1;
        std::fprintf(stderr, "nvmf target-ctl top: %s\n", e.what());
        break;
      }
      const auto now_time = std::chrono::steady_clock::now();
      render(now, before, std::chrono::duration<double>(now_time - before_time).count(), terminal.active());
      before = std::move(now);
      before_time = now_time;
    }
  }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  sigaction(SIGHUP, &old_hup, nullptr);
  return rc;
}

}  // namespace nvmf::cli
