// Self-describing block contents for verified I/O (perf --verify, demo): every block carries a magic, its own
// LBA, the run's seed, a payload derived from (seed, LBA) and a CRC32C over all of it. A read-back block then
// tells what went wrong: never written (magic), misplaced (LBA), stale from another run (seed), or corrupted
// (checksum or payload).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace nvmf::initiator {

enum class VerifyError { none, bad_magic, wrong_lba, wrong_seed, bad_checksum, bad_payload };

struct VerifyResult {
  VerifyError error = VerifyError::none;
  std::uint64_t lba = 0;        ///< The block that failed
  std::uint64_t found_lba = 0;  ///< What the block claimed to be (wrong_lba)
  explicit operator bool() const { return error == VerifyError::none; }
  std::string to_string() const;
};

inline constexpr std::uint32_t kVerifyMinBlockSize = 64;

/// Fill one block of `block_size` bytes (>= kVerifyMinBlockSize, multiple of 8) for `lba`.
void fill_verify_block(void* block, std::uint32_t block_size, std::uint64_t lba, std::uint64_t seed);
VerifyResult check_verify_block(const void* block, std::uint32_t block_size, std::uint64_t lba, std::uint64_t seed);

/// Whole buffers of `nlb` consecutive blocks starting at `slba`.
void fill_verify_blocks(void* buf, std::uint32_t block_size, std::uint64_t slba, std::uint32_t nlb,
                        std::uint64_t seed);
VerifyResult check_verify_blocks(const void* buf, std::uint32_t block_size, std::uint64_t slba, std::uint32_t nlb,
                                 std::uint64_t seed);

}  // namespace nvmf::initiator
