#include "initiator/attach/device_params.hpp"

#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstddef>

#include "nvme/libnvme.hpp"

namespace nvmf::initiator::ublk {

namespace {
// Discard ranges are one DSM range each (32-bit block count); 2 GiB per request keeps a discard of a large file
// system in a handful of commands without holding the target on one range for long.
constexpr std::uint32_t kMaxDiscardSectors = 1u << 22;
// Write Zeroes carries a 16-bit zero-based block count.
constexpr std::uint64_t kMaxWriteZeroesBlocks = 65536;

std::uint8_t shift_of(std::uint32_t v) { return static_cast<std::uint8_t>(std::countr_zero(v)); }
}  // namespace

std::uint32_t io_buffer_bytes(const Namespace& ns, std::uint32_t cap_bytes) {
  std::uint64_t bytes = std::uint64_t(ns.max_transfer_blocks) * ns.block_size;
  bytes = std::min<std::uint64_t>(bytes, cap_bytes);
  bytes -= bytes % ns.block_size;
  return static_cast<std::uint32_t>(std::max<std::uint64_t>(bytes, ns.block_size));
}

bool device_params(const Namespace& ns, const nvme_id_ns& id_ns, const nvme_id_ctrl& id_ctrl,
                   std::uint32_t max_io_bytes, Params* out, std::string* why) {
  const auto page = static_cast<std::uint32_t>(sysconf(_SC_PAGESIZE));
  if (!std::has_single_bit(ns.block_size) || ns.block_size < 512 || ns.block_size > page) {
    *why = "block size " + std::to_string(ns.block_size) + " is not a power of two between 512 and " +
           std::to_string(page) + " bytes, which the kernel's block layer needs";
    return false;
  }
  // Physical block: the preferred write granularity when NSFEAT says NPWG is valid (NVMe 2.0, 5.1.12.2.1; the
  // Linux host uses it the same way for physical_block_size).
  std::uint32_t physical = ns.block_size;
  if (id_ns.nsfeat & NVME_NS_FEAT_IO_OPT) {
    std::uint64_t npwg = (std::uint64_t(le16toh(id_ns.npwg)) + 1) * ns.block_size;
    if (std::has_single_bit(npwg) && npwg <= 64 * 1024) physical = static_cast<std::uint32_t>(npwg);
  }

  Params p{};
  p.len = offsetof(Params, devt);  // basic and discard: what every ublk kernel knows
  p.types = kParamTypeBasic;
  ParamBasic& b = p.basic;
  b.logical_bs_shift = shift_of(ns.block_size);
  b.physical_bs_shift = shift_of(physical);
  b.io_min_shift = b.physical_bs_shift;
  b.io_opt_shift = b.physical_bs_shift;
  b.max_sectors = max_io_bytes / 512;
  b.dev_sectors = ns.capacity_blocks * (ns.block_size / 512);
  if (id_ctrl.vwc & NVME_CTRL_VWC_PRESENT) b.attrs |= kAttrVolatileCache | kAttrFua;

  const std::uint16_t oncs = le16toh(id_ctrl.oncs);
  const bool dsm = oncs & NVME_CTRL_ONCS_DSM;
  const bool write_zeroes = oncs & NVME_CTRL_ONCS_WRITE_ZEROES;
  if (dsm || write_zeroes) {
    p.types |= kParamTypeDiscard;
    ParamDiscard& d = p.discard;
    d.discard_granularity = physical;  // the driver refuses a discard block with granularity 0
    if (dsm) {
      d.max_discard_sectors = kMaxDiscardSectors;
      d.max_discard_segments = 1;
    }
    if (write_zeroes)
      d.max_write_zeroes_sectors = static_cast<std::uint32_t>(kMaxWriteZeroesBlocks * ns.block_size / 512);
  }
  *out = p;
  return true;
}

}  // namespace nvmf::initiator::ublk
