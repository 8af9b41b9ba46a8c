#include "initiator/workload/verify_pattern.hpp"

#include <cstring>

#include "nvme/crc32c.hpp"

namespace nvmf::initiator {

namespace {
// Block layout: magic @0, LBA @8, seed @16, payload @24 .. size-8, CRC32C of bytes [0, size-8) @size-8, 4 pad.
constexpr std::uint64_t kMagic = 0x5946495245564d4eull;  // "NMVERIFY" read little-endian
constexpr std::size_t kPayloadOffset = 24;

std::uint64_t next(std::uint64_t& state) {  // xorshift64*: cheap, reproducible payload
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return state * 0x2545F4914F6CDD1Dull;
}

std::uint64_t payload_state(std::uint64_t lba, std::uint64_t seed) {
  std::uint64_t s = seed ^ (lba * 0x9E3779B97F4A7C15ull) ^ 0xD1B54A32D192ED03ull;
  return s ? s : 1;
}

std::uint64_t load64(const std::uint8_t* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
}  // namespace

std::string VerifyResult::to_string() const {
  const std::string at = "LBA " + std::to_string(lba) + ": ";
  switch (error) {
    case VerifyError::none: return at + "ok";
    case VerifyError::bad_magic: return at + "no verify pattern (never written, or overwritten by something else)";
    case VerifyError::wrong_lba: return at + "holds the block written for LBA " + std::to_string(found_lba);
    case VerifyError::wrong_seed: return at + "written by another run (seed differs)";
    case VerifyError::bad_checksum: return at + "checksum mismatch (data corrupted)";
    case VerifyError::bad_payload: return at + "payload differs from the pattern";
  }
  return at + "?";
}

void fill_verify_block(void* block, std::uint32_t block_size, std::uint64_t lba, std::uint64_t seed) {
  auto* p = static_cast<std::uint8_t*>(block);
  std::memcpy(p, &kMagic, 8);
  std::memcpy(p + 8, &lba, 8);
  std::memcpy(p + 16, &seed, 8);
  std::uint64_t state = payload_state(lba, seed);
  for (std::size_t off = kPayloadOffset; off + 8 <= block_size - 8; off += 8) {
    std::uint64_t v = next(state);
    std::memcpy(p + off, &v, 8);
  }
  std::uint32_t crc = nvme::crc32c(p, block_size - 8);
  std::memcpy(p + block_size - 8, &crc, 4);
  std::memset(p + block_size - 4, 0, 4);
}

VerifyResult check_verify_block(const void* block, std::uint32_t block_size, std::uint64_t lba, std::uint64_t seed) {
  const auto* p = static_cast<const std::uint8_t*>(block);
  VerifyResult r;
  r.lba = lba;
  if (load64(p) != kMagic) {
    r.error = VerifyError::bad_magic;
    return r;
  }
  std::uint32_t crc;
  std::memcpy(&crc, p + block_size - 8, 4);
  if (crc != nvme::crc32c(p, block_size - 8)) {
    r.error = VerifyError::bad_checksum;
    return r;
  }
  // The checksum holds, so the header is what was written: a wrong LBA or seed is a misdirected or stale block.
  r.found_lba = load64(p + 8);
  if (r.found_lba != lba) {
    r.error = VerifyError::wrong_lba;
    return r;
  }
  if (load64(p + 16) != seed) {
    r.error = VerifyError::wrong_seed;
    return r;
  }
  std::uint64_t state = payload_state(lba, seed);
  for (std::size_t off = kPayloadOffset; off + 8 <= block_size - 8; off += 8) {
    if (load64(p + off) != next(state)) {
      r.error = VerifyError::bad_payload;
      return r;
    }
  }
  return r;
}

void fill_verify_blocks(void* buf, std::uint32_t block_size, std::uint64_t slba, std::uint32_t nlb,
                        std::uint64_t seed) {
  auto* p = static_cast<std::uint8_t*>(buf);
  for (std::uint32_t i = 0; i < nlb; ++i) fill_verify_block(p + std::size_t(i) * block_size, block_size, slba + i, seed);
}

VerifyResult check_verify_blocks(const void* buf, std::uint32_t block_size, std::uint64_t slba, std::uint32_t nlb,
                                 std::uint64_t seed) {
  const auto* p = static_cast<const std::uint8_t*>(buf);
  for (std::uint32_t i = 0; i < nlb; ++i) {
    VerifyResult r = check_verify_block(p + std::size_t(i) * block_size, block_size, slba + i, seed);
    if (!r) return r;
  }
  return {};
}

}  // namespace nvmf::initiator
