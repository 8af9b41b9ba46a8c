// NVMe over Fabrics command layouts (NVMe-oF spec 3.x). Fabrics commands use opcode 7Fh and overlay the SQE;
// the command type (fctype) sits at byte 4. libnvme's enum nvme_fabrics_type names the fctype values.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "nvme/endian.hpp"
#include "nvme/libnvme.hpp"
#include "nvme/sgl.hpp"
#include "nvme/sqe.hpp"

namespace nvmf::nvme {

inline constexpr std::uint8_t kFabricsOpcode = 0x7F;
inline constexpr const char* kDiscoveryNqn = "nqn.2014-08.org.nvmexpress.discovery";
inline constexpr std::uint16_t kDynamicCntlid = 0xFFFF;
inline constexpr std::uint16_t kIoPort = 4420;
inline constexpr std::uint16_t kDiscoveryPort = 8009;

/// Common prefix of every fabrics command.
struct FabricsCommand {
  std::uint8_t opcode;  ///< 7Fh
  std::uint8_t flags;
  le16 cid;
  std::uint8_t fctype;  ///< Fabrics command type
  std::uint8_t rsvd5[19];
  SglDescriptor dptr;
  std::uint8_t specific[24];
};
static_assert(sizeof(FabricsCommand) == 64);
static_assert(offsetof(FabricsCommand, fctype) == 4);
static_assert(offsetof(FabricsCommand, dptr) == 24);
static_assert(offsetof(FabricsCommand, specific) == 40);

/// Connect command (fctype 01h). Its 1024-byte data is libnvme's struct nvmf_connect_data.
struct ConnectCommand {
  std::uint8_t opcode;
  std::uint8_t flags;
  le16 cid;
  std::uint8_t fctype;
  std::uint8_t rsvd5[19];
  SglDescriptor dptr;
  le16 recfmt;   ///< Record format, 0
  le16 qid;      ///< Queue to create: 0 admin, else I/O
  le16 sqsize;   ///< Submission queue size, 0's based
  std::uint8_t cattr;  ///< Bit 2: the host disables SQ flow control
  std::uint8_t rsvd47;
  le32 kato;     ///< Keep alive timeout in milliseconds (admin queue only)
  std::uint8_t rsvd52[12];
};
static_assert(sizeof(ConnectCommand) == 64);
static_assert(offsetof(ConnectCommand, fctype) == 4);
static_assert(offsetof(ConnectCommand, dptr) == 24);
static_assert(offsetof(ConnectCommand, recfmt) == 40);
static_assert(offsetof(ConnectCommand, qid) == 42);
static_assert(offsetof(ConnectCommand, sqsize) == 44);
static_assert(offsetof(ConnectCommand, cattr) == 46);
static_assert(offsetof(ConnectCommand, kato) == 48);

inline constexpr std::uint8_t kConnectCattrDisableSqFlowControl = 1 << 2;

static_assert(sizeof(nvmf_connect_data) == 1024);
static_assert(offsetof(nvmf_connect_data, hostid) == 0);
static_assert(offsetof(nvmf_connect_data, cntlid) == 16);
static_assert(offsetof(nvmf_connect_data, subsysnqn) == 256);
static_assert(offsetof(nvmf_connect_data, hostnqn) == 512);

/// Property Get (fctype 04h) and Property Set (fctype 00h).
struct PropertyCommand {
  std::uint8_t opcode;
  std::uint8_t flags;
  le16 cid;
  std::uint8_t fctype;
  std::uint8_t rsvd5[35];
  std::uint8_t attrib;  ///< Bits 2:0: size, 0 = 4 bytes, 1 = 8 bytes
  std::uint8_t rsvd41[3];
  le32 offset;          ///< Property offset (NVME_REG_*)
  le64 value;           ///< Property Set only
  std::uint8_t rsvd56[8];
};
static_assert(sizeof(PropertyCommand) == 64);
static_assert(offsetof(PropertyCommand, fctype) == 4);
static_assert(offsetof(PropertyCommand, attrib) == 40);
static_assert(offsetof(PropertyCommand, offset) == 44);
static_assert(offsetof(PropertyCommand, value) == 48);

/// View an SQE as one of the fabrics layouts above. All are 64-byte standard-layout structs of bytes and
/// little-endian integers, so copying is exact; a copy avoids type-punning through the SQE.
template <typename T>
T fabrics_view(const Sqe& sqe) {
  static_assert(sizeof(T) == sizeof(Sqe));
  T out;
  std::memcpy(&out, &sqe, sizeof out);
  return out;
}
template <typename T>
Sqe to_sqe(const T& cmd) {
  static_assert(sizeof(T) == sizeof(Sqe));
  Sqe out;
  std::memcpy(&out, &cmd, sizeof out);
  return out;
}

}  // namespace nvmf::nvme
