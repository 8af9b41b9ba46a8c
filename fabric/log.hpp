// Minimal leveled logging to stderr, shared by every layer above nvme/. One line per event, prefixed with the
// level and the reactor index, written with one write(2) so lines from different reactors never interleave.
// On a terminal the line is short and aligned; otherwise (a pipe, a file, journald) it is logfmt key=value
// with a UTC timestamp and the component (fabric/log_format.hpp, docs/architecture.md "Logs").
#pragma once
#include <cstdarg>

namespace nvmf::log {

enum class Level { error = 0, warn = 1, info = 2, debug = 3 };

void set_level(Level level);
Level level();
inline bool enabled(Level l) { return static_cast<int>(l) <= static_cast<int>(level()); }

/// `source_file` is the caller's __FILE__: its directory names the component ("target", "tcp", ...).
void write(Level level, const char* source_file, const char* fmt, ...) __attribute__((format(printf, 3, 4)));

}  // namespace nvmf::log

#define NVMF_LOG(lvl, ...)                                                          \
  do {                                                                              \
    if (::nvmf::log::enabled(::nvmf::log::Level::lvl)) ::nvmf::log::write(::nvmf::log::Level::lvl, __FILE__, __VA_ARGS__); \
  } while (0)
