// The two log line forms: logfmt for journald and log shippers (fixed key order, msg quoted and escaped, one
// line whatever the message holds) and the short terminal form.
#include "fabric/log_format.hpp"

#include <gtest/gtest.h>

// GCC 12 at -O2 with ASan reports libstdc++'s own std::regex automaton as "maybe uninitialized" (a known false
// positive in std::function's move); -Werror would fail the sanitizer build on the library's code, not ours.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <regex>
#include <string>

namespace nvmf::log {
namespace {

timespec at(time_t seconds, long ms) { return timespec{seconds, ms * 1000000}; }

std::string line(Format f, Level l, const char* component, int reactor, const char* msg, std::size_t cap = 512) {
  char buf[2048];
  const std::size_t n = format_line(buf, cap, f, l, at(1764855305, 42), component, reactor, msg);
  return std::string(buf, n);
}

TEST(LogFormat, LogfmtHasTheKeysInOrderAndAUtcTimestamp) {
  EXPECT_EQ(line(Format::logfmt, Level::info, "target", 2, "listening on tcp:127.0.0.1:4420"),
            "ts=2025-12-04T13:35:05.042Z level=info component=target reactor=2 msg=\"listening on tcp:127.0.0.1:4420\"\n");
  EXPECT_EQ(line(Format::logfmt, Level::warn, "utils", -1, "x"),
            "ts=2025-12-04T13:35:05.042Z level=warn component=utils msg=\"x\"\n");
}

TEST(LogFormat, LogfmtEscapesQuotesBackslashesAndNewlines) {
  const std::string l = line(Format::logfmt, Level::error, "target", -1, "bad \"nqn\"\nC:\\x\tend");
  EXPECT_EQ(l, "ts=2025-12-04T13:35:05.042Z level=error component=target msg=\"bad \\\"nqn\\\"\\nC:\\\\x end\"\n");
  EXPECT_EQ(l.find('\n'), l.size() - 1) << "one event, one line";
}

TEST(LogFormat, EveryLogfmtLineMatchesTheParsersPattern) {
  // What a logfmt parser accepts: key=bare-value or key="quoted value", separated by single spaces.
  const std::regex logfmt(R"(^ts=\S+ level=(error|warn|info|debug) component=[a-z_]+( reactor=[0-9]+)? msg="([^"\\]|\\.)*"\n$)");
  for (Level l : {Level::error, Level::warn, Level::info, Level::debug})
    for (const char* msg : {"", "plain", "with \"quotes\" and \\", "two\nlines", "trailing backslash \\"})
      EXPECT_TRUE(std::regex_match(line(Format::logfmt, l, "fabric", 0, msg), logfmt)) << msg;
}

TEST(LogFormat, ALongMessageIsCutButTheLineStaysWhole) {
  std::string big(3000, 'a');
  big[100] = '"';
  for (std::size_t cap : {64u, 101u, 102u, 103u, 512u}) {
    const std::string l = line(Format::logfmt, Level::info, "target", -1, big.c_str(), cap);
    EXPECT_LE(l.size(), cap);
    EXPECT_EQ(l.back(), '\n');
    EXPECT_EQ(l.find('\n'), l.size() - 1);
    const std::string t = line(Format::terminal, Level::info, "target", 1, big.c_str(), cap);
    EXPECT_LE(t.size(), cap);
    EXPECT_EQ(t.back(), '\n');
  }
}

TEST(LogFormat, TerminalFormIsShort) {
  const std::string l = line(Format::terminal, Level::info, "target", 3, "hello");
  EXPECT_TRUE(std::regex_match(l, std::regex(R"(^\d\d:\d\d:\d\d\.042 info  \[r3\] hello\n$)"))) << l;
  EXPECT_EQ(line(Format::terminal, Level::error, "target", -1, "x").substr(12), " error x\n");
}

TEST(LogFormat, ComponentIsTheSourceDirectory) {
  char c[32];
  component_of("../target/target.cpp", c, sizeof c);
  EXPECT_STREQ(c, "target");
  component_of("/build/nvmf-0.1.0/fabric/tcp/codec.cpp", c, sizeof c);
  EXPECT_STREQ(c, "tcp");
  component_of("main.cpp", c, sizeof c);
  EXPECT_STREQ(c, "nvmf");
  component_of("a/verylongdirectorynamethatdoesnotfit/x.cpp", c, 8);
  EXPECT_STREQ(c, "verylon");
}

}  // namespace
}  // namespace nvmf::log
