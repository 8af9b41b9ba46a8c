// Submission queue entry (NVMe base spec 4.2): 64 bytes, the same for admin, I/O and fabrics commands.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "nvme/endian.hpp"
#include "nvme/sgl.hpp"

namespace nvmf::nvme {

/// PSDT values for the flags byte (bits 6-7). Fabrics hosts use SGLs.
inline constexpr std::uint8_t kPsdtMask = 0xC0;
inline constexpr std::uint8_t kPsdtSgl = 0x40;
inline constexpr std::uint8_t kFuseMask = 0x03;

struct Sqe {
  std::uint8_t opcode;  ///< CDW0 bits 7:0
  std::uint8_t flags;   ///< FUSE (bits 1:0), PSDT (bits 7:6)
  le16 cid;             ///< Command identifier
  le32 nsid;            ///< Namespace identifier
  le32 cdw2;
  le32 cdw3;
  le64 mptr;            ///< Metadata pointer
  SglDescriptor dptr;   ///< Data pointer: one SGL descriptor on fabrics
  le32 cdw10;
  le32 cdw11;
  le32 cdw12;
  le32 cdw13;
  le32 cdw14;
  le32 cdw15;

  /// Byte view for fabrics commands, whose fields (fctype at 4, Connect's QID at 42...) overlay the SQE.
  const std::uint8_t* bytes() const { return reinterpret_cast<const std::uint8_t*>(this); }
  std::uint8_t* bytes() { return reinterpret_cast<std::uint8_t*>(this); }
  /// CDW10..11 as the 64-bit starting LBA of I/O commands.
  std::uint64_t slba() const { return std::uint64_t(cdw11) << 32 | cdw10; }
};
static_assert(sizeof(Sqe) == 64);
static_assert(offsetof(Sqe, opcode) == 0);
static_assert(offsetof(Sqe, flags) == 1);
static_assert(offsetof(Sqe, cid) == 2);
static_assert(offsetof(Sqe, nsid) == 4);
static_assert(offsetof(Sqe, cdw2) == 8);
static_assert(offsetof(Sqe, cdw3) == 12);
static_assert(offsetof(Sqe, mptr) == 16);
static_assert(offsetof(Sqe, dptr) == 24);
static_assert(offsetof(Sqe, cdw10) == 40);
static_assert(offsetof(Sqe, cdw11) == 44);
static_assert(offsetof(Sqe, cdw12) == 48);
static_assert(offsetof(Sqe, cdw13) == 52);
static_assert(offsetof(Sqe, cdw14) == 56);
static_assert(offsetof(Sqe, cdw15) == 60);

}  // namespace nvmf::nvme
