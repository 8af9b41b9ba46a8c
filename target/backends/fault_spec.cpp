#include "target/backends/fault_spec.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <stdexcept>

namespace nvmf::target {

namespace {
// Longer delays than this only test the host's own timeouts, which a stalled connection does better.
constexpr std::uint64_t kMaxDelayUs = 60'000'000;

[[noreturn]] void refuse(const std::string& part, const std::string& reason) {
  throw std::invalid_argument("fault '" + part + "': " + reason);
}

std::uint64_t number(const std::string& part, const std::string& digits) {
  if (digits.empty() || digits.size() > 19 ||
      !std::all_of(digits.begin(), digits.end(), [](unsigned char c) { return std::isdigit(c); }))
    refuse(part, "'" + digits + "' is not a non-negative integer");
  return std::stoull(digits);
}

FaultSelector selector(const std::string& part, const std::string& text) {
  FaultSelector s;
  if (text == "all") return s;
  const auto colon = text.find(':');
  const std::string kind = text.substr(0, colon == std::string::npos ? text.size() : colon);
  const std::string arg = colon == std::string::npos ? std::string() : text.substr(colon + 1);
  if (kind == "lba") {
    s.kind = FaultSelector::Kind::lba;
    const auto dash = arg.find('-');
    s.first_lba = number(part, arg.substr(0, dash));
    s.last_lba = dash == std::string::npos ? s.first_lba : number(part, arg.substr(dash + 1));
    if (s.last_lba < s.first_lba) refuse(part, "the LBA range ends before it starts");
  } else if (kind == "every") {
    s.kind = FaultSelector::Kind::every;
    s.every = number(part, arg);
    if (s.every == 0) refuse(part, "every:N needs N of at least 1");
  } else if (kind == "p") {
    s.kind = FaultSelector::Kind::probability;
    std::size_t used = 0;
    double p = -1;
    try {
      p = std::stod(arg, &used);
    } catch (const std::logic_error&) {
      used = 0;
    }
    if (arg.empty() || used != arg.size() || !(p >= 0.0 && p <= 1.0))
      refuse(part, "p:F needs a probability F from 0 to 1");
    s.always = p >= 1.0;
    s.threshold = s.always ? 0 : static_cast<std::uint64_t>(std::ldexp(p, 64));
  } else {
    refuse(part, "unknown selector '" + text + "' (lba:FIRST-LAST, every:N, p:F or all)");
  }
  return s;
}
}  // namespace

FaultSpec parse_fault_spec(const std::string& text) {
  FaultSpec spec;
  spec.text = text;
  if (text.empty()) throw std::invalid_argument("fault list is empty (e.g. read_error=lba:100-199)");
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto comma = text.find(',', start);
    const std::string part = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    start = comma == std::string::npos ? text.size() + 1 : comma + 1;
    const auto eq = part.find('=');
    if (eq == std::string::npos) refuse(part, "expected FAULT=SELECTOR");
    const std::string name = part.substr(0, eq), value = part.substr(eq + 1);
    std::optional<FaultSelector>* slot = nullptr;
    std::string sel = value;
    if (name == "read_error") slot = &spec.read_error;
    else if (name == "write_error") slot = &spec.write_error;
    else if (name == "write_nospace") slot = &spec.write_nospace;
    else if (name == "delay_us") {
      slot = &spec.delay;
      const auto at = value.find('@');
      spec.delay_us = static_cast<std::uint32_t>(std::min(number(part, value.substr(0, at)), kMaxDelayUs + 1));
      if (spec.delay_us == 0 || spec.delay_us > kMaxDelayUs) refuse(part, "the delay must be from 1 us to 60 s");
      sel = at == std::string::npos ? "all" : value.substr(at + 1);
    } else {
      refuse(part, "unknown fault '" + name + "' (read_error, write_error, write_nospace or delay_us)");
    }
    if (*slot) refuse(part, "'" + name + "' is given twice");
    *slot = selector(part, sel);
  }
  return spec;
}

}  // namespace nvmf::target
