// Wire integers. NVMe and NVMe-oF are little-endian throughout; the toolkit targets little-endian hosts
// (x86-64, arm64), so wire structs use plain fixed-width fields and this header pins the assumption.
#pragma once
#include <bit>
#include <cstdint>

static_assert(std::endian::native == std::endian::little, "wire structs assume a little-endian host");

namespace nvmf::nvme {
using le16 = std::uint16_t;
using le32 = std::uint32_t;
using le64 = std::uint64_t;
}  // namespace nvmf::nvme
