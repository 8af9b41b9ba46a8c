// CRC32C (Castagnoli) as NVMe/TCP digests use it: initial FFFFFFFFh, final XOR FFFFFFFFh, stored little-endian.
// ISA-L's crc32_iscsi picks its SIMD path at run time, so the binary also runs on CPUs without SSE4.2.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

namespace nvmf::nvme {

inline constexpr std::uint32_t kCrc32cSeed = 0xFFFFFFFFu;

/// Continue a running CRC32C state over more bytes (state starts at kCrc32cSeed).
std::uint32_t crc32c_update(std::uint32_t state, const void* data, std::size_t len);
/// Finish a running state into the digest value.
inline std::uint32_t crc32c_finish(std::uint32_t state) { return state ^ 0xFFFFFFFFu; }
/// Digest of one buffer.
inline std::uint32_t crc32c(const void* data, std::size_t len) {
  return crc32c_finish(crc32c_update(kCrc32cSeed, data, len));
}

}  // namespace nvmf::nvme
