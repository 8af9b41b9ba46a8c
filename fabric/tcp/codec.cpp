#include "fabric/tcp/codec.hpp"

#include <algorithm>
#include <cstring>

#include "nvme/crc32c.hpp"

namespace nvmf::fabric::tcp {

using pdu::PduType;
using pdu::TermFes;

namespace {

constexpr std::uint32_t kOffFlags = offsetof(pdu::CommonHeader, flags);
constexpr std::uint32_t kOffHlen = offsetof(pdu::CommonHeader, hlen);
constexpr std::uint32_t kOffPdo = offsetof(pdu::CommonHeader, pdo);
constexpr std::uint32_t kOffPlen = offsetof(pdu::CommonHeader, plen);

std::uint32_t align_up(std::uint32_t v, std::uint32_t a) { return (v + a - 1) / a * a; }

bool is_known(std::uint8_t t) {
  switch (static_cast<PduType>(t)) {
    case PduType::ic_req:
    case PduType::ic_resp:
    case PduType::h2c_term_req:
    case PduType::c2h_term_req:
    case PduType::capsule_cmd:
    case PduType::capsule_resp:
    case PduType::h2c_data:
    case PduType::c2h_data:
    case PduType::r2t: return true;
  }
  return false;
}

/// PDUs travel one way only (spec 3.6, table "PDU types"): a controller never receives a CapsuleResp.
bool receivable(Role role, PduType t) {
  if (role == Role::controller)
    return t == PduType::ic_req || t == PduType::h2c_term_req || t == PduType::capsule_cmd || t == PduType::h2c_data;
  return t == PduType::ic_resp || t == PduType::c2h_term_req || t == PduType::capsule_resp ||
         t == PduType::c2h_data || t == PduType::r2t;
}

/// ICReq, ICResp and the TermReqs never carry digests (spec 3.6.2.2-3.6.2.5).
bool carries_digests(PduType t) {
  return t == PduType::capsule_cmd || t == PduType::capsule_resp || t == PduType::h2c_data ||
         t == PduType::c2h_data || t == PduType::r2t;
}
bool carries_data(PduType t) { return t == PduType::capsule_cmd || t == PduType::h2c_data || t == PduType::c2h_data; }
bool is_term_req(PduType t) { return t == PduType::h2c_term_req || t == PduType::c2h_term_req; }
bool is_ic(PduType t) { return t == PduType::ic_req || t == PduType::ic_resp; }

FatalError invalid(std::uint32_t fei) { return {TermFes::invalid_header_field, fei}; }

void fill_common(std::uint8_t* out, PduType type, std::uint8_t flags, const PduLayout& l, std::uint8_t hlen) {
  pdu::CommonHeader ch{type, flags, hlen, static_cast<std::uint8_t>(l.pdo), l.plen};
  std::memcpy(out, &ch, sizeof ch);
}

PduLayout finish_header(std::uint8_t* out, PduType type, std::uint8_t flags, std::uint8_t hlen, Digests d,
                        std::uint32_t data_len, std::uint32_t alignment) {
  PduLayout l = pdu_layout(hlen, d, data_len, alignment);
  if (d.header) flags |= pdu::kFlagHdgst;
  if (d.data && data_len > 0) flags |= pdu::kFlagDdgst;
  fill_common(out, type, flags, l, hlen);
  if (d.header) put_header_digest(out, hlen);
  return l;
}

}  // namespace

PduLayout pdu_layout(std::uint8_t hlen, Digests digests, std::uint32_t data_len, std::uint32_t alignment) {
  PduLayout l;
  l.header_len = hlen + (digests.header ? pdu::kDigestSize : 0);
  if (data_len == 0) {
    l.plen = l.header_len;
    return l;
  }
  l.pdo = align_up(l.header_len, std::max<std::uint32_t>(alignment, 1));
  l.pad_len = l.pdo - l.header_len;
  l.plen = l.pdo + data_len + (digests.data ? pdu::kDigestSize : 0);
  return l;
}

void put_le32(std::uint8_t* out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
std::uint32_t get_le32(const std::uint8_t* in) {
  return in[0] | in[1] << 8 | in[2] << 16 | std::uint32_t(in[3]) << 24;
}

pdu::IcReq build_ic_req(std::uint8_t hpda, std::uint8_t dgst, std::uint32_t maxr2t) {
  pdu::IcReq r{};
  r.ch = {PduType::ic_req, 0, sizeof(pdu::IcReq), 0, sizeof(pdu::IcReq)};
  r.pfv = 0;
  r.hpda = hpda;
  r.dgst = dgst;
  r.maxr2t = maxr2t;
  return r;
}

pdu::IcResp build_ic_resp(std::uint8_t cpda, std::uint8_t dgst, std::uint32_t maxh2cdata) {
  pdu::IcResp r{};
  r.ch = {PduType::ic_resp, 0, sizeof(pdu::IcResp), 0, sizeof(pdu::IcResp)};
  r.pfv = 0;
  r.cpda = cpda;
  r.dgst = dgst;
  r.maxh2cdata = maxh2cdata;
  return r;
}

PduLayout build_capsule_cmd(std::uint8_t* out, const nvme::Sqe& sqe, Digests d, std::uint32_t data_len,
                            std::uint32_t alignment) {
  std::memcpy(out + offsetof(pdu::CapsuleCmd, sqe), &sqe, sizeof sqe);
  return finish_header(out, PduType::capsule_cmd, 0, sizeof(pdu::CapsuleCmd), d, data_len, alignment);
}

PduLayout build_capsule_resp(std::uint8_t* out, const nvme::Cqe& cqe, Digests d) {
  std::memcpy(out + offsetof(pdu::CapsuleResp, cqe), &cqe, sizeof cqe);
  return finish_header(out, PduType::capsule_resp, 0, sizeof(pdu::CapsuleResp), d, 0, 4);
}

PduLayout build_c2h_data(std::uint8_t* out, std::uint16_t cccid, std::uint32_t datao, std::uint32_t datal,
                         std::uint8_t flags, Digests d, std::uint32_t alignment) {
  pdu::C2HData h{};
  h.cccid = cccid;
  h.datao = datao;
  h.datal = datal;
  std::memcpy(out, &h, sizeof h);
  return finish_header(out, PduType::c2h_data, flags & (pdu::kFlagLastPdu | pdu::kFlagSuccess), sizeof h, d, datal,
                       alignment);
}

PduLayout build_h2c_data(std::uint8_t* out, std::uint16_t cccid, std::uint16_t ttag, std::uint32_t datao,
                         std::uint32_t datal, bool last, Digests d, std::uint32_t alignment) {
  pdu::H2CData h{};
  h.cccid = cccid;
  h.ttag = ttag;
  h.datao = datao;
  h.datal = datal;
  std::memcpy(out, &h, sizeof h);
  return finish_header(out, PduType::h2c_data, last ? pdu::kFlagLastPdu : 0, sizeof h, d, datal, alignment);
}

PduLayout build_r2t(std::uint8_t* out, std::uint16_t cccid, std::uint16_t ttag, std::uint32_t r2to,
                    std::uint32_t r2tl, Digests d) {
  pdu::R2T h{};
  h.cccid = cccid;
  h.ttag = ttag;
  h.r2to = r2to;
  h.r2tl = r2tl;
  std::memcpy(out, &h, sizeof h);
  return finish_header(out, PduType::r2t, 0, sizeof h, d, 0, 4);
}

std::uint32_t build_term_req(std::uint8_t* out, PduType type, FatalError error, const std::uint8_t* offending,
                             std::size_t offending_len) {
  std::size_t copy = offending ? std::min(offending_len, pdu::kMaxTermReqErrorData) : 0;
  auto plen = static_cast<std::uint32_t>(sizeof(pdu::TermReq) + copy);
  pdu::TermReq t{};
  t.ch = {type, 0, sizeof(pdu::TermReq), 0, plen};
  t.fes = static_cast<std::uint16_t>(error.fes);
  put_le32(t.fei, error.fei);
  std::memcpy(out, &t, sizeof t);
  if (copy) std::memcpy(out + sizeof t, offending, copy);
  return plen;
}

std::uint32_t term_req_fei(const pdu::TermReq& t) { return get_le32(t.fei); }

void put_header_digest(std::uint8_t* header, std::uint8_t hlen) { put_le32(header + hlen, nvme::crc32c(header, hlen)); }

bool header_digest_ok(const std::uint8_t* header, std::uint8_t hlen) {
  return get_le32(header + hlen) == nvme::crc32c(header, hlen);
}

std::uint32_t data_digest_update(std::uint32_t state, const iovec* iov, std::uint32_t iovcnt, std::size_t offset,
                                 std::size_t len) {
  for (std::uint32_t i = 0; i < iovcnt && len > 0; ++i) {
    if (offset >= iov[i].iov_len) {
      offset -= iov[i].iov_len;
      continue;
    }
    std::size_t n = std::min(iov[i].iov_len - offset, len);
    state = nvme::crc32c_update(state, static_cast<const std::uint8_t*>(iov[i].iov_base) + offset, n);
    len -= n;
    offset = 0;
  }
  return state;
}

std::uint32_t data_digest(const iovec* iov, std::uint32_t iovcnt, std::size_t offset, std::size_t len) {
  return nvme::crc32c_finish(data_digest_update(nvme::kCrc32cSeed, iov, iovcnt, offset, len));
}

std::optional<FatalError> check_common_header(const pdu::CommonHeader& ch, const ReceiveRules& rules) {
  auto raw_type = static_cast<std::uint8_t>(ch.pdu_type);
  if (!is_known(raw_type) || !receivable(rules.role, ch.pdu_type)) return invalid(offsetof(pdu::CommonHeader, pdu_type));
  const PduType t = ch.pdu_type;
  // Connection establishment comes first and only once (spec 3.3: ICReq/ICResp exchange); TermReqs may come
  // at any time.
  if (!is_term_req(t) && is_ic(t) == rules.connected) return FatalError{TermFes::pdu_sequence_error, 0};
  if (ch.hlen != pdu::expected_hlen(t)) return invalid(kOffHlen);

  const bool hdgst = ch.flags & pdu::kFlagHdgst;
  const bool ddgst = ch.flags & pdu::kFlagDdgst;
  if (carries_digests(t)) {
    if (hdgst != rules.digests.header) return invalid(kOffFlags);
  } else if (hdgst || ddgst) {
    return invalid(kOffFlags);
  }
  // SUCCESS is only legal with LAST_PDU (spec 3.6.2.8; the Linux host treats it as a protocol error).
  if (t == PduType::c2h_data && (ch.flags & pdu::kFlagSuccess) && !(ch.flags & pdu::kFlagLastPdu))
    return invalid(kOffFlags);

  const std::uint32_t header_len = ch.hlen + (hdgst ? pdu::kDigestSize : 0);
  if (ch.plen < header_len) return invalid(kOffPlen);

  if (is_term_req(t)) {
    if (ch.plen > kMaxTermReqPlen) return invalid(kOffPlen);
    return std::nullopt;
  }
  if (!carries_data(t)) {
    if (ddgst) return invalid(kOffFlags);
    if (ch.pdo != 0) return invalid(kOffPdo);
    if (ch.plen != header_len) return invalid(kOffPlen);
    return std::nullopt;
  }
  if (ch.plen == header_len) {  // no data
    if (t != PduType::capsule_cmd) return invalid(kOffPlen);  // H2CData/C2HData exist to carry data
    if (ddgst) return invalid(kOffFlags);
    if (ch.pdo != 0) return invalid(kOffPdo);
    return std::nullopt;
  }
  if (ddgst != rules.digests.data) return invalid(kOffFlags);
  if (ch.pdo < header_len || ch.pdo % rules.alignment != 0) return invalid(kOffPdo);
  const std::uint64_t data_start = ch.pdo;
  const std::uint64_t tail = ddgst ? pdu::kDigestSize : 0;
  if (ch.plen <= data_start + tail) return invalid(kOffPlen);
  const std::uint64_t data_len = ch.plen - data_start - tail;
  const std::uint32_t limit = t == PduType::capsule_cmd ? rules.max_capsule_data : rules.max_data_pdu;
  if (data_len > limit) return FatalError{TermFes::data_transfer_limit_exceeded, kOffPlen};
  return std::nullopt;
}

std::uint32_t received_header_length(const pdu::CommonHeader& ch) {
  return ch.hlen + ((ch.flags & pdu::kFlagHdgst) ? pdu::kDigestSize : 0);
}

std::uint32_t received_pad_length(const pdu::CommonHeader& ch) {
  return ch.pdo ? ch.pdo - received_header_length(ch) : 0;
}

bool has_data_digest(const pdu::CommonHeader& ch) { return ch.pdo != 0 && (ch.flags & pdu::kFlagDdgst); }

std::uint32_t received_data_length(const pdu::CommonHeader& ch) {
  if (is_term_req(ch.pdu_type)) return ch.plen - ch.hlen;
  if (ch.pdo == 0) return 0;
  return ch.plen - ch.pdo - (has_data_digest(ch) ? pdu::kDigestSize : 0);
}

std::optional<FatalError> check_ic_req(const pdu::IcReq& req) {
  // SPDK's target answers both with Invalid Header Field pointing at the field.
  if (req.pfv != 0) return invalid(offsetof(pdu::IcReq, pfv));
  if (req.hpda > kMaxPda) return invalid(offsetof(pdu::IcReq, hpda));
  return std::nullopt;
}

std::optional<FatalError> check_data_pdu_length(const pdu::CommonHeader& ch, std::uint32_t datal) {
  if (datal != received_data_length(ch)) return invalid(offsetof(pdu::H2CData, datal));
  return std::nullopt;
}

const char* fes_name(TermFes fes) {
  switch (fes) {
    case TermFes::invalid_header_field: return "invalid header field";
    case TermFes::pdu_sequence_error: return "PDU sequence error";
    case TermFes::header_digest_error: return "header digest error";
    case TermFes::data_transfer_out_of_range: return "data transfer out of range";
    case TermFes::data_transfer_limit_exceeded: return "data transfer limit exceeded";
    case TermFes::unsupported_parameter: return "unsupported parameter";
  }
  return "unknown FES";
}

const char* pdu_type_name(PduType type) {
  switch (type) {
    case PduType::ic_req: return "ICReq";
    case PduType::ic_resp: return "ICResp";
    case PduType::h2c_term_req: return "H2CTermReq";
    case PduType::c2h_term_req: return "C2HTermReq";
    case PduType::capsule_cmd: return "CapsuleCmd";
    case PduType::capsule_resp: return "CapsuleResp";
    case PduType::h2c_data: return "H2CData";
    case PduType::c2h_data: return "C2HData";
    case PduType::r2t: return "R2T";
  }
  return "unknown PDU";
}

}  // namespace nvmf::fabric::tcp
