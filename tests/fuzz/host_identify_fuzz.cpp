// libFuzzer harness: what the host library parses from a controller's data (initiator/): the discovery log page
// (parse_discovery_log, and the text for each entry's codes as `nvmf discover` prints them) and Identify
// Namespace (namespace_from_identify, which decides block size and transfer limits the block API checks).
//
// Input: [kind: 1 byte][payload]. kind bit 0 clear: payload is a discovery log page. Set: payload is
// [max transfer bytes: 4 bytes LE][Identify Namespace data, zero-padded to 4096 bytes].
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "initiator/discovery.hpp"
#include "initiator/commands.hpp"
#include "initiator/namespace.hpp"

using namespace nvmf::initiator;

namespace {

[[noreturn]] void finding(const char* what) {
  std::fprintf(stderr, "%s\n", what);
  std::abort();
}

void discovery_log(const std::uint8_t* p, std::size_t n) {
  DiscoveryLog log;
  std::string why;
  if (!parse_discovery_log(p, n, &log, &why)) {
    if (why.empty()) finding("discovery log refused without a reason");
    return;
  }
  std::uint64_t numrec;
  std::memcpy(&numrec, p + 8, sizeof numrec);
  if (log.entries.size() != numrec || n < 1024 + numrec * 1024) finding("entries do not match NUMREC");
  std::size_t text = 0;
  for (const auto& e : log.entries) {
    if (e.trsvcid.size() > 32 || e.subnqn.size() > 256 || e.traddr.size() > 256) finding("field beyond its size");
    text += trtype_string(e.trtype).size() + adrfam_string(e.adrfam).size() + subtype_string(e.subtype).size() +
            treq_string(e.treq).size() + eflags_string(e.eflags).size() + sectype_string(e.sectype).size();
  }
  (void)text;
}

void identify_namespace(const std::uint8_t* p, std::size_t n) {
  if (n < 4) return;
  std::uint32_t max_transfer;
  std::memcpy(&max_transfer, p, 4);
  auto id = std::make_unique<nvme_id_ns>();
  std::memset(id.get(), 0, sizeof *id);
  std::memcpy(id.get(), p + 4, std::min(n - 4, sizeof *id));
  std::string why;
  auto ns = namespace_from_identify(1, *id, max_transfer, &why);
  if (!ns) {
    if (why.empty()) finding("namespace refused without a reason");
    return;
  }
  if (ns->block_size < 512 || ns->block_size > 65536 || (ns->block_size & (ns->block_size - 1)) != 0)
    finding("block size outside 512..64K or not a power of two");
  if (ns->capacity_blocks == 0 || ns->max_transfer_blocks == 0 || ns->max_transfer_blocks > kMaxBlocksPerCommand ||
      std::uint64_t(ns->max_transfer_blocks) * ns->block_size > max_transfer)
    finding("namespace limits inconsistent");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  if (data[0] & 1)
    identify_namespace(data + 1, size - 1);
  else
    discovery_log(data + 1, size - 1);
  return 0;
}
