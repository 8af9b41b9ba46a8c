#include "fabric/log_format.hpp"

#include <cstdio>
#include <cstring>

namespace nvmf::log {

const char* level_name(Level l) {
  switch (l) {
    case Level::error: return "error";
    case Level::warn: return "warn";
    case Level::info: return "info";
    case Level::debug: return "debug";
  }
  return "?";
}

void component_of(const char* source_file, char* out, std::size_t cap) {
  if (cap == 0) return;
  const char* end = std::strrchr(source_file, '/');
  const char* begin = source_file;
  if (end) {
    begin = end;
    while (begin > source_file && begin[-1] != '/') --begin;
  } else {
    end = source_file;  // no directory: no component
  }
  std::size_t n = static_cast<std::size_t>(end - begin);
  if (n == 0 || std::strcmp(begin, "..") == 0) {
    std::snprintf(out, cap, "nvmf");
    return;
  }
  if (n >= cap) n = cap - 1;
  std::memcpy(out, begin, n);
  out[n] = '\0';
}

namespace {
/// Appends `text` as a logfmt quoted value; stops before `limit`.
std::size_t append_quoted(char* out, std::size_t pos, std::size_t limit, const char* text) {
  if (pos < limit) out[pos++] = '"';
  for (const char* p = text; *p && pos + 2 < limit; ++p) {
    const char c = *p;
    if (c == '"' || c == '\\') {
      out[pos++] = '\\';
      out[pos++] = c;
    } else if (c == '\n') {
      out[pos++] = '\\';
      out[pos++] = 'n';
    } else if (c == '\t' || c == '\r') {
      out[pos++] = ' ';
    } else {
      out[pos++] = c;
    }
  }
  if (pos < limit) out[pos++] = '"';
  return pos;
}

std::size_t clamp(int n, std::size_t limit) {
  if (n < 0) return 0;
  return static_cast<std::size_t>(n) < limit ? static_cast<std::size_t>(n) : limit;
}
}  // namespace

std::size_t format_line(char* out, std::size_t cap, Format format, Level level, const timespec& when,
                        const char* component, int reactor, const char* message) {
  if (cap < 2) return 0;
  const std::size_t limit = cap - 1;  // the last byte is kept for '\n'
  std::size_t n = 0;
  if (format == Format::terminal) {
    tm t{};
    localtime_r(&when.tv_sec, &t);
    n = clamp(std::snprintf(out, cap, "%02d:%02d:%02d.%03ld %-5s ", t.tm_hour, t.tm_min, t.tm_sec,
                            when.tv_nsec / 1000000, level_name(level)),
              limit);
    if (reactor >= 0) n += clamp(std::snprintf(out + n, cap - n, "[r%d] ", reactor), limit - n);
    n += clamp(std::snprintf(out + n, cap - n, "%s", message), limit - n);
  } else {
    tm t{};
    gmtime_r(&when.tv_sec, &t);
    n = clamp(std::snprintf(out, cap, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s component=%s ",
                            t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec,
                            when.tv_nsec / 1000000, level_name(level), component),
              limit);
    if (reactor >= 0) n += clamp(std::snprintf(out + n, cap - n, "reactor=%d ", reactor), limit - n);
    n += clamp(std::snprintf(out + n, cap - n, "msg="), limit - n);
    n = append_quoted(out, n, limit, message);
  }
  out[n++] = '\n';
  return n;
}

}  // namespace nvmf::log
