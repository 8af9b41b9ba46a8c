// Which I/O a fault-injecting namespace fails or delays (docs/configuration.md, "Fault injection"). The text form
// is a comma-separated list of FAULT=SELECTOR:
//   read_error=SEL      reads fail as a media error           -> Unrecovered Read Error (SCT 2h, SC 81h)
//   write_error=SEL     writes fail as a media error          -> Write Fault (SCT 2h, SC 80h)
//   write_nospace=SEL   writes find no space (ENOSPC)         -> Capacity Exceeded (SCT 0h, SC 81h, DNR)
//   delay_us=N@SEL      I/O completes N microseconds late (on the reactor's timers, never blocking it)
// SEL is lba:FIRST-LAST (or lba:N; commands touching that LBA range), every:N (every Nth command of the kinds
// the fault applies to), p:F (each such command with probability F, from a fixed pseudo-random sequence) or all.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

namespace nvmf::target {

struct FaultSelector {
  enum class Kind : std::uint8_t { all, lba, every, probability };
  Kind kind = Kind::all;
  std::uint64_t first_lba = 0, last_lba = 0;  ///< lba: inclusive range
  std::uint64_t every = 1;                    ///< every: the Nth, 2Nth... command matches
  std::uint64_t threshold = 0;                ///< probability: matches when a 64-bit draw is below this
  bool always = false;                        ///< probability 1
};

struct FaultSpec {
  std::optional<FaultSelector> read_error;
  std::optional<FaultSelector> write_error;
  std::optional<FaultSelector> write_nospace;
  std::optional<FaultSelector> delay;
  std::uint32_t delay_us = 0;
  std::string text;  ///< As configured, for logs

  bool empty() const { return !read_error && !write_error && !write_nospace && !delay; }
};

/// Parses the text form; throws std::invalid_argument naming the part it refuses and why.
FaultSpec parse_fault_spec(const std::string& text);

}  // namespace nvmf::target
