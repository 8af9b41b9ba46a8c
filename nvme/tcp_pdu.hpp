// NVMe/TCP PDU layouts (NVMe/TCP transport spec 3.6). Every PDU starts with the 8-byte common header; HLEN is the
// header length without digest, PDO the offset of data from the PDU start, PLEN the whole PDU.
#pragma once
#include <cstddef>
#include <cstdint>

#include "nvme/cqe.hpp"
#include "nvme/endian.hpp"
#include "nvme/sqe.hpp"

namespace nvmf::nvme::tcp {

enum class PduType : std::uint8_t {
  ic_req = 0x00,
  ic_resp = 0x01,
  h2c_term_req = 0x02,
  c2h_term_req = 0x03,
  capsule_cmd = 0x04,
  capsule_resp = 0x05,
  h2c_data = 0x06,
  c2h_data = 0x07,
  r2t = 0x09,
};

/// Common header FLAGS bits.
inline constexpr std::uint8_t kFlagHdgst = 1 << 0;    ///< HDGSTF: a header digest follows the header
inline constexpr std::uint8_t kFlagDdgst = 1 << 1;    ///< DDGSTF: a data digest follows the data
inline constexpr std::uint8_t kFlagLastPdu = 1 << 2;  ///< LAST_PDU on H2CData/C2HData
inline constexpr std::uint8_t kFlagSuccess = 1 << 3;  ///< SUCCESS on C2HData: no CapsuleResp follows

/// ICReq/ICResp DGST bits.
inline constexpr std::uint8_t kDigestHeader = 1 << 0;
inline constexpr std::uint8_t kDigestData = 1 << 1;

inline constexpr std::size_t kDigestSize = 4;
inline constexpr std::size_t kMaxTermReqErrorData = 128;  ///< Offending header bytes carried by a TermReq

/// TermReq fatal error status (FES).
enum class TermFes : std::uint16_t {
  invalid_header_field = 0x01,
  pdu_sequence_error = 0x02,
  header_digest_error = 0x03,
  data_transfer_out_of_range = 0x04,
  data_transfer_limit_exceeded = 0x05,
  unsupported_parameter = 0x06,
};

struct CommonHeader {
  PduType pdu_type;
  std::uint8_t flags;
  std::uint8_t hlen;
  std::uint8_t pdo;
  le32 plen;
};
static_assert(sizeof(CommonHeader) == 8);
static_assert(offsetof(CommonHeader, pdu_type) == 0);
static_assert(offsetof(CommonHeader, flags) == 1);
static_assert(offsetof(CommonHeader, hlen) == 2);
static_assert(offsetof(CommonHeader, pdo) == 3);
static_assert(offsetof(CommonHeader, plen) == 4);

struct IcReq {
  CommonHeader ch;
  le16 pfv;           ///< PDU format version, 0
  std::uint8_t hpda;  ///< Host PDU data alignment, 0's based dwords (<= 31)
  std::uint8_t dgst;  ///< Digests the host asks for (kDigestHeader, kDigestData)
  le32 maxr2t;        ///< Outstanding R2Ts per command the host accepts, 0's based
  std::uint8_t rsvd16[112];
};
static_assert(sizeof(IcReq) == 128);
static_assert(offsetof(IcReq, pfv) == 8);
static_assert(offsetof(IcReq, hpda) == 10);
static_assert(offsetof(IcReq, dgst) == 11);
static_assert(offsetof(IcReq, maxr2t) == 12);

struct IcResp {
  CommonHeader ch;
  le16 pfv;
  std::uint8_t cpda;  ///< Controller PDU data alignment, 0's based dwords
  std::uint8_t dgst;  ///< Digests enabled
  le32 maxh2cdata;    ///< Largest H2CData payload the controller accepts (>= 4096, multiple of 4)
  std::uint8_t rsvd16[112];
};
static_assert(sizeof(IcResp) == 128);
static_assert(offsetof(IcResp, pfv) == 8);
static_assert(offsetof(IcResp, cpda) == 10);
static_assert(offsetof(IcResp, dgst) == 11);
static_assert(offsetof(IcResp, maxh2cdata) == 12);

/// H2CTermReq and C2HTermReq share this header; up to 128 bytes of the offending PDU header follow it.
/// The spec (and SPDK) put FEI at offset 10; the Linux kernel's own struct is unpadded-by-accident at 12.
struct TermReq {
  CommonHeader ch;
  le16 fes;                ///< Fatal error status (TermFes)
  std::uint8_t fei[4];     ///< Fatal error information: byte offset of the bad field (le32, unaligned)
  std::uint8_t rsvd14[10];
};
static_assert(sizeof(TermReq) == 24);
static_assert(offsetof(TermReq, fes) == 8);
static_assert(offsetof(TermReq, fei) == 10);

struct CapsuleCmd {
  CommonHeader ch;
  Sqe sqe;
};
static_assert(sizeof(CapsuleCmd) == 72);
static_assert(offsetof(CapsuleCmd, sqe) == 8);

struct CapsuleResp {
  CommonHeader ch;
  Cqe cqe;
};
static_assert(sizeof(CapsuleResp) == 24);
static_assert(offsetof(CapsuleResp, cqe) == 8);

struct H2CData {
  CommonHeader ch;
  le16 cccid;  ///< Command capsule CID
  le16 ttag;   ///< Transfer tag from the R2T
  le32 datao;  ///< Offset of this data in the command's transfer
  le32 datal;  ///< Length of this PDU's data
  std::uint8_t rsvd20[4];
};
static_assert(sizeof(H2CData) == 24);
static_assert(offsetof(H2CData, cccid) == 8);
static_assert(offsetof(H2CData, ttag) == 10);
static_assert(offsetof(H2CData, datao) == 12);
static_assert(offsetof(H2CData, datal) == 16);

struct C2HData {
  CommonHeader ch;
  le16 cccid;
  std::uint8_t rsvd10[2];
  le32 datao;
  le32 datal;
  std::uint8_t rsvd20[4];
};
static_assert(sizeof(C2HData) == 24);
static_assert(offsetof(C2HData, cccid) == 8);
static_assert(offsetof(C2HData, datao) == 12);
static_assert(offsetof(C2HData, datal) == 16);

struct R2T {
  CommonHeader ch;
  le16 cccid;
  le16 ttag;
  le32 r2to;  ///< R2T offset
  le32 r2tl;  ///< R2T length
  std::uint8_t rsvd20[4];
};
static_assert(sizeof(R2T) == 24);
static_assert(offsetof(R2T, cccid) == 8);
static_assert(offsetof(R2T, ttag) == 10);
static_assert(offsetof(R2T, r2to) == 12);
static_assert(offsetof(R2T, r2tl) == 16);

/// The HLEN each PDU type must carry.
constexpr std::uint8_t expected_hlen(PduType t) {
  switch (t) {
    case PduType::ic_req:
    case PduType::ic_resp: return 128;
    case PduType::capsule_cmd: return 72;
    default: return 24;
  }
}

/// Largest header of any PDU (ICReq/ICResp) plus a header digest: the receive path's header buffer size.
inline constexpr std::size_t kMaxHeaderSize = 128 + kDigestSize;

}  // namespace nvmf::nvme::tcp
