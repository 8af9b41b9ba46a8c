// An active namespace as the host sees it after Identify Namespace: the numbers the block API checks every
// command against.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "nvme/libnvme.hpp"

namespace nvmf::initiator {

struct Namespace {
  std::uint32_t nsid = 0;
  std::uint32_t block_size = 0;       ///< Bytes per logical block (2^LBADS of the current format)
  std::uint64_t capacity_blocks = 0;  ///< NSZE
  std::uint32_t max_transfer_blocks = 0;  ///< Largest Read/Write, from MDTS and the 16-bit NLB field

  std::uint64_t size_bytes() const { return capacity_blocks * block_size; }
};

/// Build from Identify Namespace data. nullopt (and *why) when the host cannot use the namespace: a
/// zero-sized or inactive namespace, or a format carrying metadata, which this host does not transfer.
std::optional<Namespace> namespace_from_identify(std::uint32_t nsid, const nvme_id_ns& id,
                                                 std::uint32_t max_transfer_bytes, std::string* why);

}  // namespace nvmf::initiator
