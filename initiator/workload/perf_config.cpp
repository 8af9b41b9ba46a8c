#include "initiator/workload/perf_config.hpp"

namespace nvmf::initiator {

std::optional<PerfPattern> parse_perf_pattern(const std::string& text) {
  for (PerfPattern p : {PerfPattern::read, PerfPattern::write, PerfPattern::randread, PerfPattern::randwrite,
                        PerfPattern::rw, PerfPattern::randrw})
    if (text == to_string(p)) return p;
  return std::nullopt;
}

const char* to_string(PerfPattern p) {
  switch (p) {
    case PerfPattern::read: return "read";
    case PerfPattern::write: return "write";
    case PerfPattern::randread: return "randread";
    case PerfPattern::randwrite: return "randwrite";
    case PerfPattern::rw: return "rw";
    case PerfPattern::randrw: return "randrw";
  }
  return "?";
}

}  // namespace nvmf::initiator
