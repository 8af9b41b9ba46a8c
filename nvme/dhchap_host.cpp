#include "nvme/dhchap_host.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <cstring>

namespace nvmf::nvme::dhchap {

namespace {
template <typename T>
T load(std::span<const std::uint8_t> message) {
  T out;
  std::memcpy(&out, message.data(), sizeof out);
  return out;
}
void append_bytes(Bytes& out, const void* data, std::size_t n) {
  const std::size_t at = out.size();
  out.resize(at + n);
  if (n) std::memcpy(out.data() + at, data, n);
}
template <typename T>
void append(Bytes& out, const T& value) {
  append_bytes(out, &value, sizeof value);
}
std::uint32_t fresh_seqnum() {
  std::uint32_t s = 0;
  while (s == 0) {
    Bytes b = random_bytes(4);
    std::memcpy(&s, b.data(), 4);
  }
  return s;
}
bool is(std::span<const std::uint8_t> m, AuthType type, AuthId id) {
  return m.size() >= 2 && m[0] == static_cast<std::uint8_t>(type) && m[1] == static_cast<std::uint8_t>(id);
}
}  // namespace

const char* failure_text(AuthFailure reason) {
  switch (reason) {
    case AuthFailure::failed: return "authentication failed";
    case AuthFailure::protocol_unusable: return "no usable authentication protocol";
    case AuthFailure::concat_mismatch: return "secure channel concatenation mismatch";
    case AuthFailure::hash_unusable: return "no usable hash function";
    case AuthFailure::dhgroup_unusable: return "no usable DH group";
    case AuthFailure::incorrect_payload: return "incorrect payload";
    case AuthFailure::incorrect_protocol_message: return "incorrect protocol message";
  }
  return "unknown reason";
}

DhchapHost::DhchapHost(HostCredentials credentials, std::string hostnqn, std::string subnqn, std::uint16_t t_id)
    : credentials_(std::move(credentials)), hostnqn_(std::move(hostnqn)), subnqn_(std::move(subnqn)), t_id_(t_id) {}

DhchapHost::~DhchapHost() {
  OPENSSL_cleanse(credentials_.host_key.key.data(), credentials_.host_key.key.size());
  if (credentials_.ctrl_key) OPENSSL_cleanse(credentials_.ctrl_key->key.data(), credentials_.ctrl_key->key.size());
  OPENSSL_cleanse(expected_r2_.data(), expected_r2_.size());
}

Bytes DhchapHost::negotiate() const {
  AuthNegotiate hdr{};
  hdr.auth_type = static_cast<std::uint8_t>(AuthType::common);
  hdr.auth_id = static_cast<std::uint8_t>(AuthId::negotiate);
  hdr.t_id = t_id_;
  hdr.sc_c = kScNone;
  hdr.napd = 1;
  AuthProtocolDescriptor d{};
  d.authid = kAuthIdDhchap;
  d.halen = static_cast<std::uint8_t>(std::min(credentials_.hashes.size(), kDescriptorHashSlots));
  d.dhlen = static_cast<std::uint8_t>(std::min(credentials_.dhgroups.size(), kDescriptorDhSlots));
  for (std::size_t i = 0; i < d.halen; ++i) d.idlist[i] = static_cast<std::uint8_t>(credentials_.hashes[i]);
  for (std::size_t i = 0; i < d.dhlen; ++i)
    d.idlist[kDescriptorHashSlots + i] = static_cast<std::uint8_t>(credentials_.dhgroups[i]);
  Bytes out;
  append(out, hdr);
  append(out, d);
  return out;
}

Bytes DhchapHost::fail(std::string why, std::optional<AuthFailure> reason, bool send_failure2) {
  failed_ = true;
  error_ = std::move(why);
  failure_ = reason;
  if (!send_failure2) return {};
  AuthFailureMessage msg{};
  msg.auth_type = static_cast<std::uint8_t>(AuthType::common);
  msg.auth_id = static_cast<std::uint8_t>(AuthId::failure2);
  msg.t_id = t_id_;
  msg.rescode = kAuthFailureReason;
  msg.rescode_exp = static_cast<std::uint8_t>(reason.value_or(AuthFailure::failed));
  Bytes out;
  append(out, msg);
  return out;
}

bool DhchapHost::controller_failure(std::span<const std::uint8_t> message) {
  if (!is(message, AuthType::common, AuthId::failure1)) return false;
  AuthFailure reason = AuthFailure::failed;
  if (message.size() >= sizeof(AuthFailureMessage)) reason = static_cast<AuthFailure>(load<AuthFailureMessage>(message).rescode_exp);
  fail(std::string("the controller refused authentication: ") + failure_text(reason), reason, false);
  return true;
}

Bytes DhchapHost::on_challenge(std::span<const std::uint8_t> message) {
  if (controller_failure(message)) return {};
  if (!is(message, AuthType::dhchap, AuthId::challenge) || message.size() < sizeof(DhchapChallenge))
    return fail("unexpected message instead of DH-HMAC-CHAP_Challenge", AuthFailure::incorrect_protocol_message, true);
  const auto hdr = load<DhchapChallenge>(message);
  if (hdr.t_id != t_id_) return fail("challenge with another transaction ID", AuthFailure::incorrect_payload, true);
  auto hash = hash_from_id(hdr.hashid);
  if (!hash || std::find(credentials_.hashes.begin(), credentials_.hashes.end(), *hash) == credentials_.hashes.end())
    return fail("the controller chose a hash not offered", AuthFailure::hash_unusable, true);
  auto group = dhgroup_from_id(hdr.dhgid);
  if (!group ||
      std::find(credentials_.dhgroups.begin(), credentials_.dhgroups.end(), *group) == credentials_.dhgroups.end())
    return fail("the controller chose a DH group not offered", AuthFailure::dhgroup_unusable, true);
  const std::size_t hl = hash_length(*hash);
  // The receive buffer may be longer than the message: the wire does not say how much of it was filled.
  if (hdr.hl != hl || hdr.dhvlen != dh_value_length(*group) || message.size() < sizeof hdr + hl + hdr.dhvlen)
    return fail("malformed DH-HMAC-CHAP_Challenge", AuthFailure::incorrect_payload, true);
  hash_ = hash;
  group_ = group;
  const auto c1 = message.subspan(sizeof hdr, hl);
  const auto ctrl_value = message.subspan(sizeof hdr + hl, hdr.dhvlen);
  Bytes session, host_value;
  try {
    if (*group != DhGroup::null) {
      DhKey key(*group);
      host_value = key.public_value();
      try {
        session = key.shared_secret(ctrl_value);
      } catch (const CryptoError&) {
        return fail("the controller's DH value is not valid", AuthFailure::dhgroup_unusable, true);
      }
    }
    const Bytes kh = credentials_.host_key.transformed(hostnqn_);
    const Bytes r1 = host_response({*hash, kh, c1, session, hdr.seqnum, t_id_}, hostnqn_, subnqn_);
    DhchapReply reply{};
    reply.auth_type = static_cast<std::uint8_t>(AuthType::dhchap);
    reply.auth_id = static_cast<std::uint8_t>(AuthId::reply);
    reply.t_id = t_id_;
    reply.hl = static_cast<std::uint8_t>(hl);
    reply.dhvlen = static_cast<std::uint16_t>(host_value.size());
    Bytes c2(hl, 0);
    if (credentials_.ctrl_key) {
      reply.cvalid = 1;
      reply.seqnum = fresh_seqnum();
      c2 = random_bytes(hl);
      const Bytes kc = credentials_.ctrl_key->transformed(subnqn_);
      expected_r2_ = controller_response({*hash, kc, c2, session, reply.seqnum, t_id_}, subnqn_, hostnqn_);
    }
    OPENSSL_cleanse(session.data(), session.size());
    Bytes out;
    append(out, reply);
    append_bytes(out, r1.data(), r1.size());
    append_bytes(out, c2.data(), c2.size());
    append_bytes(out, host_value.data(), host_value.size());
    return out;
  } catch (const CryptoError& e) {
    return fail(std::string("DH-HMAC-CHAP computation failed: ") + e.what(), AuthFailure::failed, true);
  }
}

Bytes DhchapHost::on_success1(std::span<const std::uint8_t> message) {
  if (controller_failure(message)) return {};
  if (!is(message, AuthType::dhchap, AuthId::success1) || message.size() < sizeof(DhchapSuccess1))
    return fail("unexpected message instead of DH-HMAC-CHAP_Success1", AuthFailure::incorrect_protocol_message, true);
  // Success1 answers the Reply: without an accepted Challenge there is no hash to check it with.
  if (!hash_ || failed_ || authenticated_)
    return fail("DH-HMAC-CHAP_Success1 out of sequence", AuthFailure::incorrect_protocol_message, true);
  const auto hdr = load<DhchapSuccess1>(message);
  const std::size_t hl = hash_length(*hash_);
  if (hdr.t_id != t_id_) return fail("success with another transaction ID", AuthFailure::incorrect_payload, true);
  if (expected_r2_.empty()) {
    authenticated_ = true;
    return {};
  }
  if (!hdr.rvalid || hdr.hl != hl || message.size() < sizeof hdr + hl)
    return fail("the controller did not answer the host's challenge", AuthFailure::incorrect_payload, true);
  if (!responses_equal(expected_r2_, message.subspan(sizeof hdr, hl)))
    return fail("the controller's response is wrong (controller key mismatch)", AuthFailure::failed, true);
  DhchapSuccess2 s2{};
  s2.auth_type = static_cast<std::uint8_t>(AuthType::dhchap);
  s2.auth_id = static_cast<std::uint8_t>(AuthId::success2);
  s2.t_id = t_id_;
  authenticated_ = true;
  Bytes out;
  append(out, s2);
  return out;
}

}  // namespace nvmf::nvme::dhchap
