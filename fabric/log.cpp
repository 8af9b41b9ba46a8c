#include "fabric/log.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <ctime>

#include "fabric/log_format.hpp"
#include "fabric/reactor.hpp"

namespace nvmf::log {

namespace {
std::atomic<Level> g_level{Level::info};

/// Decided once: stderr does not change from terminal to pipe while the process runs.
Format output_format() {
  static const Format format = isatty(STDERR_FILENO) ? Format::terminal : Format::logfmt;
  return format;
}
}  // namespace

void set_level(Level l) { g_level.store(l, std::memory_order_relaxed); }
Level level() { return g_level.load(std::memory_order_relaxed); }

void write(Level l, const char* source_file, const char* fmt, ...) {
  char message[1024];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(message, sizeof message, fmt, ap);
  va_end(ap);
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  char component[32];
  component_of(source_file, component, sizeof component);
  const auto* r = fabric::Reactor::current();
  char line[1536];
  const std::size_t n = format_line(line, sizeof line, output_format(), l, ts, component,
                                    r ? static_cast<int>(r->index()) : -1, message);
  [[maybe_unused]] auto w = ::write(STDERR_FILENO, line, n);
}

}  // namespace nvmf::log
