#include "fabric/log.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <ctime>

#include "fabric/reactor.hpp"

namespace nvmf::log {

namespace {
std::atomic<Level> g_level{Level::info};
const char* name(Level l) {
  switch (l) {
    case Level::error: return "error";
    case Level::warn: return "warn";
    case Level::info: return "info";
    case Level::debug: return "debug";
  }
  return "?";
}
}  // namespace

void set_level(Level l) { g_level.store(l, std::memory_order_relaxed); }
Level level() { return g_level.load(std::memory_order_relaxed); }

void write(Level l, const char* fmt, ...) {
  char line[1024];
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm t{};
  localtime_r(&ts.tv_sec, &t);
  int n = std::snprintf(line, sizeof line, "%02d:%02d:%02d.%03ld %-5s ", t.tm_hour, t.tm_min, t.tm_sec,
                        ts.tv_nsec / 1000000, name(l));
  if (auto* r = fabric::Reactor::current())
    n += std::snprintf(line + n, sizeof line - n, "[r%u] ", r->index());
  va_list ap;
  va_start(ap, fmt);
  n += std::vsnprintf(line + n, sizeof line - n, fmt, ap);
  va_end(ap);
  if (n >= static_cast<int>(sizeof line)) n = sizeof line - 1;
  line[n++] = '\n';
  [[maybe_unused]] auto w = ::write(STDERR_FILENO, line, static_cast<std::size_t>(n));
}

}  // namespace nvmf::log
