// In-band authentication on the wire (NVMe Base 2.0, 8.13 and NVMe-oF 2.0, 6.3): the Authentication Send and
// Authentication Receive fabrics commands (fctype 05h/06h, security protocol E9h) and the DH-HMAC-CHAP messages
// they carry. Every message starts with AUTH_TYPE, AUTH_ID, two reserved bytes and the little-endian T_ID; the
// variable parts (descriptors, challenge, response, DH value) follow the fixed header.
#pragma once
#include <cstddef>
#include <cstdint>

#include "nvme/endian.hpp"
#include "nvme/sgl.hpp"

namespace nvmf::nvme {

/// SECP of Authentication Send/Receive for NVMe in-band authentication; SPSP0 and SPSP1 are both 01h.
inline constexpr std::uint8_t kAuthSecp = 0xE9;
inline constexpr std::uint8_t kAuthSpsp = 0x01;

/// Connect response DW0: AUTHREQ.ATR, the controller requires an authentication transaction (as nvmet sets it).
inline constexpr std::uint32_t kConnectAuthreqAtr = 1u << 17;
/// Connect response DW0: AUTHREQ.ASCR, secure channel concatenation required (not offered by this target).
inline constexpr std::uint32_t kConnectAuthreqAscr = 1u << 18;

/// Authentication Send (fctype 05h) and Authentication Receive (06h): TL / AL is the transfer length.
struct AuthCommand {
  std::uint8_t opcode;
  std::uint8_t flags;
  le16 cid;
  std::uint8_t fctype;
  std::uint8_t rsvd5[19];
  SglDescriptor dptr;
  std::uint8_t rsvd40;
  std::uint8_t spsp0;  ///< SP Specific 0: 01h
  std::uint8_t spsp1;  ///< SP Specific 1: 01h
  std::uint8_t secp;   ///< Security Protocol: E9h
  le32 length;         ///< TL (Send) or AL (Receive)
  std::uint8_t rsvd48[16];
};
static_assert(sizeof(AuthCommand) == 64);
static_assert(offsetof(AuthCommand, fctype) == 4);
static_assert(offsetof(AuthCommand, dptr) == 24);
static_assert(offsetof(AuthCommand, spsp0) == 41);
static_assert(offsetof(AuthCommand, spsp1) == 42);
static_assert(offsetof(AuthCommand, secp) == 43);
static_assert(offsetof(AuthCommand, length) == 44);

/// AUTH_TYPE: common messages (Negotiate, Failure) or DH-HMAC-CHAP messages.
enum class AuthType : std::uint8_t { common = 0x00, dhchap = 0x01 };
/// AUTH_ID of each message.
enum class AuthId : std::uint8_t {
  negotiate = 0x00,
  challenge = 0x01,
  reply = 0x02,
  success1 = 0x03,
  success2 = 0x04,
  failure2 = 0xF0,  ///< host to controller
  failure1 = 0xF1,  ///< controller to host
};

/// Authentication protocol identifier of DH-HMAC-CHAP in a Negotiate descriptor.
inline constexpr std::uint8_t kAuthIdDhchap = 0x01;
/// Secure channel concatenation (SC_C) 0: none.
inline constexpr std::uint8_t kScNone = 0x00;

/// AUTH_Failure reason code and its explanations (NVMe Base 2.0, figure "AUTH_Failure message").
inline constexpr std::uint8_t kAuthFailureReason = 0x01;
enum class AuthFailure : std::uint8_t {
  failed = 0x01,                  ///< Authentication failed (wrong response)
  protocol_unusable = 0x02,       ///< No usable authentication protocol
  concat_mismatch = 0x03,         ///< Secure channel concatenation mismatch
  hash_unusable = 0x04,           ///< No usable hash function
  dhgroup_unusable = 0x05,        ///< No usable DH group
  incorrect_payload = 0x06,       ///< Malformed message (length, T_ID, field values)
  incorrect_protocol_message = 0x07,  ///< Message out of sequence
};

struct AuthHeader {
  std::uint8_t auth_type;
  std::uint8_t auth_id;
  std::uint8_t rsvd2[2];
  le16 t_id;  ///< Transaction identifier, chosen by the host in Negotiate
};
static_assert(sizeof(AuthHeader) == 6);
static_assert(offsetof(AuthHeader, t_id) == 4);

/// One authentication protocol descriptor: HALEN hash IDs in IDLIST[0..29], DHLEN DH group IDs in IDLIST[30..59].
struct AuthProtocolDescriptor {
  std::uint8_t authid;  ///< 01h: DH-HMAC-CHAP
  std::uint8_t rsvd1;
  std::uint8_t halen;
  std::uint8_t dhlen;
  std::uint8_t idlist[60];
};
static_assert(sizeof(AuthProtocolDescriptor) == 64);
static_assert(offsetof(AuthProtocolDescriptor, halen) == 2);
static_assert(offsetof(AuthProtocolDescriptor, dhlen) == 3);
static_assert(offsetof(AuthProtocolDescriptor, idlist) == 4);
inline constexpr std::size_t kDescriptorHashSlots = 30;
inline constexpr std::size_t kDescriptorDhSlots = 30;

/// AUTH_Negotiate (host to controller), followed by NAPD descriptors.
struct AuthNegotiate {
  std::uint8_t auth_type;  ///< 00h
  std::uint8_t auth_id;    ///< 00h
  std::uint8_t rsvd2[2];
  le16 t_id;
  std::uint8_t sc_c;
  std::uint8_t napd;  ///< Number of protocol descriptors
};
static_assert(sizeof(AuthNegotiate) == 8);
static_assert(offsetof(AuthNegotiate, t_id) == 4);
static_assert(offsetof(AuthNegotiate, sc_c) == 6);
static_assert(offsetof(AuthNegotiate, napd) == 7);

/// DH-HMAC-CHAP_Challenge (controller to host), followed by C1[HL] and the controller's DH value[DHVLEN].
struct DhchapChallenge {
  std::uint8_t auth_type;  ///< 01h
  std::uint8_t auth_id;    ///< 01h
  std::uint8_t rsvd2[2];
  le16 t_id;
  std::uint8_t hl;  ///< Hash length
  std::uint8_t rsvd7;
  std::uint8_t hashid;
  std::uint8_t dhgid;
  le16 dhvlen;
  le32 seqnum;  ///< S1
};
static_assert(sizeof(DhchapChallenge) == 16);
static_assert(offsetof(DhchapChallenge, hl) == 6);
static_assert(offsetof(DhchapChallenge, hashid) == 8);
static_assert(offsetof(DhchapChallenge, dhgid) == 9);
static_assert(offsetof(DhchapChallenge, dhvlen) == 10);
static_assert(offsetof(DhchapChallenge, seqnum) == 12);

/// DH-HMAC-CHAP_Reply (host to controller), followed by R1[HL], C2[HL] and the host's DH value[DHVLEN].
struct DhchapReply {
  std::uint8_t auth_type;  ///< 01h
  std::uint8_t auth_id;    ///< 02h
  std::uint8_t rsvd2[2];
  le16 t_id;
  std::uint8_t hl;
  std::uint8_t rsvd7;
  std::uint8_t cvalid;  ///< 1: C2 is valid, the host authenticates the controller too
  std::uint8_t rsvd9;
  le16 dhvlen;
  le32 seqnum;  ///< S2 (0 when CVALID is 0)
};
static_assert(sizeof(DhchapReply) == 16);
static_assert(offsetof(DhchapReply, hl) == 6);
static_assert(offsetof(DhchapReply, cvalid) == 8);
static_assert(offsetof(DhchapReply, dhvlen) == 10);
static_assert(offsetof(DhchapReply, seqnum) == 12);

/// DH-HMAC-CHAP_Success1 (controller to host), followed by R2[HL] when RVALID.
struct DhchapSuccess1 {
  std::uint8_t auth_type;  ///< 01h
  std::uint8_t auth_id;    ///< 03h
  std::uint8_t rsvd2[2];
  le16 t_id;
  std::uint8_t hl;  ///< The Linux host expects HL set whatever RVALID says
  std::uint8_t rsvd7;
  std::uint8_t rvalid;
  std::uint8_t rsvd9[7];
};
static_assert(sizeof(DhchapSuccess1) == 16);
static_assert(offsetof(DhchapSuccess1, hl) == 6);
static_assert(offsetof(DhchapSuccess1, rvalid) == 8);

/// DH-HMAC-CHAP_Success2 (host to controller, bidirectional only).
struct DhchapSuccess2 {
  std::uint8_t auth_type;  ///< 01h
  std::uint8_t auth_id;    ///< 04h
  std::uint8_t rsvd2[2];
  le16 t_id;
  std::uint8_t rsvd6[10];
};
static_assert(sizeof(DhchapSuccess2) == 16);

/// AUTH_Failure1 (controller to host) and AUTH_Failure2 (host to controller).
struct AuthFailureMessage {
  std::uint8_t auth_type;  ///< 00h
  std::uint8_t auth_id;    ///< F1h or F0h
  std::uint8_t rsvd2[2];
  le16 t_id;
  std::uint8_t rescode;      ///< 01h
  std::uint8_t rescode_exp;  ///< AuthFailure
};
static_assert(sizeof(AuthFailureMessage) == 8);
static_assert(offsetof(AuthFailureMessage, rescode) == 6);
static_assert(offsetof(AuthFailureMessage, rescode_exp) == 7);

}  // namespace nvmf::nvme
