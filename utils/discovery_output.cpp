#include "utils/discovery_output.hpp"

#include <cstdio>

namespace nvmf::cli {

using initiator::DiscoveryLog;

nlohmann::json discovery_log_json(const DiscoveryLog& log) {
  nlohmann::json records = nlohmann::json::array();
  for (const auto& e : log.entries) {
    records.push_back({
        {"trtype", initiator::trtype_string(e.trtype)},
        {"adrfam", initiator::adrfam_string(e.adrfam)},
        {"subtype", initiator::subtype_string(e.subtype)},
        {"treq", initiator::treq_string(e.treq)},
        {"portid", e.portid},
        {"trsvcid", e.trsvcid},
        {"subnqn", e.subnqn},
        {"traddr", e.traddr},
        {"eflags", initiator::eflags_string(e.eflags)},
        {"sectype", initiator::sectype_string(e.sectype)},
        {"cntlid", e.cntlid},
        {"asqsz", e.asqsz},
    });
  }
  return {{"genctr", log.genctr}, {"records", records}};
}

void print_discovery_log(const DiscoveryLog& log) {
  std::printf("\nDiscovery Log Number of Records %zu, Generation counter %llu\n", log.entries.size(),
              static_cast<unsigned long long>(log.genctr));
  for (std::size_t i = 0; i < log.entries.size(); ++i) {
    const auto& e = log.entries[i];
    std::printf("=====Discovery Log Entry %zu======\n", i);
    std::printf("trtype:  %s\n", initiator::trtype_string(e.trtype).c_str());
    std::printf("adrfam:  %s\n", initiator::adrfam_string(e.adrfam).c_str());
    std::printf("subtype: %s\n", initiator::subtype_string(e.subtype).c_str());
    std::printf("treq:    %s\n", initiator::treq_string(e.treq).c_str());
    std::printf("portid:  %u\n", e.portid);
    std::printf("trsvcid: %s\n", e.trsvcid.c_str());
    std::printf("subnqn:  %s\n", e.subnqn.c_str());
    std::printf("traddr:  %s\n", e.traddr.c_str());
    std::printf("eflags:  %s\n", initiator::eflags_string(e.eflags).c_str());
    std::printf("sectype: %s\n", initiator::sectype_string(e.sectype).c_str());
  }
}

}  // namespace nvmf::cli
