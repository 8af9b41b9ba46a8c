#include "initiator/namespace.hpp"

#include <algorithm>

#include "initiator/commands.hpp"

namespace nvmf::initiator {

std::optional<Namespace> namespace_from_identify(std::uint32_t nsid, const nvme_id_ns& id,
                                                 std::uint32_t max_transfer_bytes, std::string* why) {
  auto fail = [&](std::string text) -> std::optional<Namespace> {
    if (why) *why = "namespace " + std::to_string(nsid) + ": " + text;
    return std::nullopt;
  };
  if (id.nsze == 0) return fail("inactive (NSZE 0)");
  // FLBAS bits 3:0 index the format, bits 6:5 extend it beyond 16 formats (NVMe 2.0).
  unsigned index = (id.flbas & NVME_NS_FLBAS_LOWER_MASK) | ((id.flbas & NVME_NS_FLBAS_HIGHER_MASK) >> 1);
  if (index > id.nlbaf) return fail("FLBAS selects format " + std::to_string(index) + " beyond NLBAF");
  const nvme_lbaf& format = id.lbaf[index];
  if (format.ds < 9 || format.ds > 16) return fail("unsupported LBADS " + std::to_string(format.ds));
  if (format.ms != 0) return fail("formats with metadata are not supported");

  Namespace ns;
  ns.nsid = nsid;
  ns.block_size = 1u << format.ds;
  ns.capacity_blocks = id.nsze;
  ns.max_transfer_blocks = std::min(max_transfer_bytes / ns.block_size, kMaxBlocksPerCommand);
  if (ns.max_transfer_blocks == 0) return fail("block size exceeds the controller's maximum transfer");
  return ns;
}

}  // namespace nvmf::initiator
