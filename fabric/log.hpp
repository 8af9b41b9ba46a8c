// Minimal leveled logging to stderr, shared by every layer above nvme/. One line per event, prefixed with the
// level and the reactor index, written with one write(2) so lines from different reactors never interleave.
#pragma once
#include <cstdarg>

namespace nvmf::log {

enum class Level { error = 0, warn = 1, info = 2, debug = 3 };

void set_level(Level level);
Level level();
inline bool enabled(Level l) { return static_cast<int>(l) <= static_cast<int>(level()); }

void write(Level level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

}  // namespace nvmf::log

#define NVMF_LOG(lvl, ...)                                                          \
  do {                                                                              \
    if (::nvmf::log::enabled(::nvmf::log::Level::lvl)) ::nvmf::log::write(::nvmf::log::Level::lvl, __VA_ARGS__); \
  } while (0)
