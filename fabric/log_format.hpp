// How one log event becomes one line. Two forms:
//  - terminal: "13:35:05.123 info  [r0] message", short and aligned for a person watching;
//  - logfmt: "ts=2026-12-04T13:35:05.123Z level=info component=target reactor=0 msg=\"message\"", one line of
//    key=value pairs in a fixed order, which journald, Loki/promtail and Vector parse as they are (the logfmt
//    convention: bare values without spaces, msg always quoted with \" \\ \n escaped).
// log.cpp picks terminal when stderr is a terminal and logfmt otherwise (a pipe, a file, the journal).
#pragma once
#include <cstddef>
#include <ctime>

#include "fabric/log.hpp"

namespace nvmf::log {

enum class Format { terminal, logfmt };

const char* level_name(Level level);

/// "target" for ".../target/target.cpp", "tcp" for "fabric/tcp/codec.cpp": the directory a source file is in.
/// Writes at most `cap` - 1 characters and a NUL into `out`.
void component_of(const char* source_file, char* out, std::size_t cap);

/// Formats one event into `out` (at most `cap` bytes, no NUL, ending in '\n'; a long message is cut, never the
/// line ending) and returns its length. `reactor` < 0: not on a reactor thread.
std::size_t format_line(char* out, std::size_t cap, Format format, Level level, const timespec& when,
                        const char* component, int reactor, const char* message);

}  // namespace nvmf::log
