// NVMe/TCP PDU codec: pure functions that build outgoing PDU headers and validate received ones, shared by the
// controller and host roles. No I/O. Layouts are nvme/tcp_pdu.hpp's; rules are the NVMe/TCP transport spec's
// (sections 3.3 PDU format, 3.6 PDU definitions, 3.5 error handling) plus what the Linux host enforces
// (docs/linux-host.md).
#pragma once
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <optional>

#include "nvme/cqe.hpp"
#include "nvme/sqe.hpp"
#include "nvme/tcp_pdu.hpp"

namespace nvmf::fabric::tcp {

namespace pdu = nvme::tcp;

/// What a TermReq reports: the fatal error status and the byte offset of the offending field (FEI).
struct FatalError {
  pdu::TermFes fes;
  std::uint32_t fei;
  bool operator==(const FatalError&) const = default;
};

/// Digests in force on a connection (after the ICReq/ICResp exchange).
struct Digests {
  bool header = false;
  bool data = false;
  std::uint8_t dgst_bits() const { return (header ? pdu::kDigestHeader : 0) | (data ? pdu::kDigestData : 0); }
  static Digests from_bits(std::uint8_t bits) { return {(bits & pdu::kDigestHeader) != 0, (bits & pdu::kDigestData) != 0}; }
};

/// Where the parts of one PDU sit: header (+ header digest), padding up to PDO, data, data digest.
struct PduLayout {
  std::uint32_t header_len = 0;  ///< HLEN + header digest
  std::uint32_t pad_len = 0;     ///< Zero bytes between the header digest and PDO
  std::uint32_t pdo = 0;         ///< 0 when the PDU carries no data
  std::uint32_t plen = 0;
};

/// Bytes of alignment a PDA value (CPDA/HPDA: 0's based dwords) asks for.
constexpr std::uint32_t pda_bytes(std::uint8_t pda) { return (pda + 1u) * 4u; }
/// Largest PDA value the spec allows (HPDA/CPDA 0..31).
inline constexpr std::uint8_t kMaxPda = 31;
/// Largest TermReq PLEN: its header plus the offending header bytes it may carry.
inline constexpr std::uint32_t kMaxTermReqPlen = sizeof(pdu::TermReq) + pdu::kMaxTermReqErrorData;
/// Size an output buffer for build_term_req must have.
inline constexpr std::size_t kTermReqBufferSize = kMaxTermReqPlen;
/// Largest header + header digest of a PDU that carries digests (CapsuleCmd).
inline constexpr std::size_t kMaxDigestedHeader = sizeof(pdu::CapsuleCmd) + pdu::kDigestSize;

/// Layout of a PDU with `hlen` header bytes and `data_len` data bytes, data aligned to `alignment` bytes.
PduLayout pdu_layout(std::uint8_t hlen, Digests digests, std::uint32_t data_len, std::uint32_t alignment);

// --- Builders. Each writes the header (and header digest when on) into `out` and returns the layout; the
// caller sends header, pad_len zero bytes, data and (when digests.data and data_len > 0) the data digest.
pdu::IcReq build_ic_req(std::uint8_t hpda, std::uint8_t dgst, std::uint32_t maxr2t);
pdu::IcResp build_ic_resp(std::uint8_t cpda, std::uint8_t dgst, std::uint32_t maxh2cdata);
PduLayout build_capsule_cmd(std::uint8_t* out, const nvme::Sqe& sqe, Digests digests, std::uint32_t data_len,
                            std::uint32_t alignment);
PduLayout build_capsule_resp(std::uint8_t* out, const nvme::Cqe& cqe, Digests digests);
/// flags: kFlagLastPdu and/or kFlagSuccess.
PduLayout build_c2h_data(std::uint8_t* out, std::uint16_t cccid, std::uint32_t datao, std::uint32_t datal,
                         std::uint8_t flags, Digests digests, std::uint32_t alignment);
PduLayout build_h2c_data(std::uint8_t* out, std::uint16_t cccid, std::uint16_t ttag, std::uint32_t datao,
                         std::uint32_t datal, bool last, Digests digests, std::uint32_t alignment);
PduLayout build_r2t(std::uint8_t* out, std::uint16_t cccid, std::uint16_t ttag, std::uint32_t r2to,
                    std::uint32_t r2tl, Digests digests);
/// H2CTermReq or C2HTermReq: HLEN 24, no digests, FES, FEI at offset 10, then up to 128 bytes of the offending
/// header. Returns PLEN (24 + bytes copied). `out` holds kTermReqBufferSize bytes.
std::uint32_t build_term_req(std::uint8_t* out, pdu::PduType type, FatalError error, const std::uint8_t* offending,
                             std::size_t offending_len);
/// FEI of a received TermReq (le32 at offset 10).
std::uint32_t term_req_fei(const pdu::TermReq& t);

// --- Digests (CRC32C, nvme/crc32c.hpp).
/// Header digest over the first `hlen` bytes, stored little-endian right after them.
void put_header_digest(std::uint8_t* header, std::uint8_t hlen);
bool header_digest_ok(const std::uint8_t* header, std::uint8_t hlen);
/// Continue a running CRC32C state (nvme::kCrc32cSeed to start) over bytes [offset, offset + len) of a scatter
/// list: one ISA-L call per contiguous piece, so a receiver can fold in each chunk as it arrives.
std::uint32_t data_digest_update(std::uint32_t state, const iovec* iov, std::uint32_t iovcnt, std::size_t offset,
                                 std::size_t len);
/// Digest over bytes [offset, offset + len) of a scatter list.
std::uint32_t data_digest(const iovec* iov, std::uint32_t iovcnt, std::size_t offset, std::size_t len);
void put_le32(std::uint8_t* out, std::uint32_t v);
std::uint32_t get_le32(const std::uint8_t* in);

// --- Validation of received PDUs.
enum class Role : std::uint8_t { controller, host };  ///< The role of the receiver

/// What the receiver accepts right now.
struct ReceiveRules {
  Role role = Role::controller;
  bool connected = false;        ///< ICReq/ICResp exchange done
  Digests digests;               ///< Negotiated (always off before the exchange)
  std::uint32_t alignment = 4;   ///< The receiver's data alignment in bytes: pda_bytes(CPDA or HPDA)
  std::uint32_t max_capsule_data = 8192;  ///< Controller: in-capsule data limit of this queue
  std::uint32_t max_data_pdu = 128 * 1024;  ///< Data in one H2CData (MAXH2CDATA) or C2HData PDU
};

/// Checks the 8-byte common header against the role, the connection phase and the negotiated parameters:
/// PDU type (and direction), HLEN, digest and other flags, PDO and PLEN. nullopt means acceptable.
std::optional<FatalError> check_common_header(const pdu::CommonHeader& ch, const ReceiveRules& rules);
/// Header length including the header digest, for a header that passed check_common_header.
std::uint32_t received_header_length(const pdu::CommonHeader& ch);
/// Bytes of padding, data and data digest after the header, for a header that passed check_common_header.
std::uint32_t received_pad_length(const pdu::CommonHeader& ch);
std::uint32_t received_data_length(const pdu::CommonHeader& ch);
bool has_data_digest(const pdu::CommonHeader& ch);

/// ICReq fields (PFV 0, HPDA <= 31).
std::optional<FatalError> check_ic_req(const pdu::IcReq& req);
/// H2CData/C2HData: DATAL must match the data PLEN carries (FEI 16).
std::optional<FatalError> check_data_pdu_length(const pdu::CommonHeader& ch, std::uint32_t datal);

const char* fes_name(pdu::TermFes fes);
const char* pdu_type_name(pdu::PduType type);

}  // namespace nvmf::fabric::tcp
