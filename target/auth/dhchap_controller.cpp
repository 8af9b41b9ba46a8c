#include "target/auth/dhchap_controller.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <cstring>

#include "fabric/log.hpp"

namespace nvmf::target {

using namespace nvme::dhchap;
using nvme::AuthFailure;
using nvme::AuthId;
using nvme::AuthType;

namespace {
template <typename T>
T load(std::span<const std::uint8_t> message) {
  T out;
  std::memcpy(&out, message.data(), sizeof out);
  return out;
}
template <typename T>
void store(std::span<std::uint8_t> buffer, const T& value) {
  std::memcpy(buffer.data(), &value, sizeof value);
}
bool allowed(const auto& list, auto value) {
  return list.empty() || std::find(list.begin(), list.end(), value) != list.end();
}
/// Random S1: never 0, which the spec reserves for "no sequence number".
std::uint32_t fresh_seqnum() {
  std::uint32_t s = 0;
  while (s == 0) {
    Bytes b = random_bytes(4);
    std::memcpy(&s, b.data(), 4);
  }
  return s;
}
}  // namespace

DhchapController::DhchapController(DhchapCredentials credentials, std::string hostnqn, std::string subnqn)
    : credentials_(std::move(credentials)), hostnqn_(std::move(hostnqn)), subnqn_(std::move(subnqn)) {}

DhchapController::~DhchapController() {
  forget_secrets();
  OPENSSL_cleanse(credentials_.host_key.key.data(), credentials_.host_key.key.size());
  if (credentials_.ctrl_key) OPENSSL_cleanse(credentials_.ctrl_key->key.data(), credentials_.ctrl_key->key.size());
}

void DhchapController::forget_secrets() {
  dh_key_.reset();
  OPENSSL_cleanse(c1_.data(), c1_.size());
  c1_.clear();
  OPENSSL_cleanse(r2_.data(), r2_.size());
  r2_.clear();
}

void DhchapController::fail(AuthFailure reason) {
  NVMF_LOG(info, "DH-HMAC-CHAP: host %s on %s: authentication failed (reason 0x%02x)", hostnqn_.c_str(),
           subnqn_.c_str(), static_cast<unsigned>(reason));
  failure_ = reason;
  state_ = State::failure1;
  forget_secrets();
}

void DhchapController::on_send(std::span<const std::uint8_t> message) {
  if (state_ == State::failure1 || state_ == State::failed) return;  // the host must fetch AUTH_Failure1 now
  if (message.size() < sizeof(nvme::AuthHeader)) return fail(AuthFailure::incorrect_payload);
  const auto type = static_cast<AuthType>(message[0]);
  const auto id = static_cast<AuthId>(message[1]);
  if (type == AuthType::common && id == AuthId::negotiate) return negotiate(message);
  if (type == AuthType::common && id == AuthId::failure2) return failure2(message);
  if (type == AuthType::dhchap && id == AuthId::reply) return reply(message);
  if (type == AuthType::dhchap && id == AuthId::success2) return success2(message);
  fail(AuthFailure::incorrect_protocol_message);
}

std::size_t DhchapController::on_receive(std::span<std::uint8_t> buffer) {
  if (buffer.size() < sizeof(nvme::AuthFailureMessage)) return 0;
  std::fill(buffer.begin(), buffer.end(), std::uint8_t{0});
  switch (state_) {
    case State::challenge:
      return challenge(buffer);
    case State::success1:
      return success1(buffer);
    case State::failure1:
      return failure1(buffer);
    default:
      // A Receive where the host should send: out of sequence (SPDK answers the same way).
      fail(AuthFailure::incorrect_protocol_message);
      return failure1(buffer);
  }
}

void DhchapController::negotiate(std::span<const std::uint8_t> message) {
  if (state_ != State::negotiate) return fail(AuthFailure::incorrect_protocol_message);
  if (message.size() < sizeof(nvme::AuthNegotiate)) return fail(AuthFailure::incorrect_payload);
  const auto hdr = load<nvme::AuthNegotiate>(message);
  t_id_ = hdr.t_id;
  if (hdr.napd == 0 || message.size() != sizeof hdr + hdr.napd * sizeof(nvme::AuthProtocolDescriptor))
    return fail(AuthFailure::incorrect_payload);
  if (hdr.sc_c != nvme::kScNone) return fail(AuthFailure::concat_mismatch);
  std::optional<nvme::AuthProtocolDescriptor> chap;
  for (std::size_t i = 0; i < hdr.napd && !chap; ++i) {
    auto d = load<nvme::AuthProtocolDescriptor>(message.subspan(sizeof hdr + i * sizeof(nvme::AuthProtocolDescriptor)));
    if (d.authid == nvme::kAuthIdDhchap) chap = d;
  }
  if (!chap) return fail(AuthFailure::protocol_unusable);
  if (chap->halen > nvme::kDescriptorHashSlots || chap->dhlen > nvme::kDescriptorDhSlots)
    return fail(AuthFailure::incorrect_payload);
  const std::uint8_t* hash_ids = chap->idlist;
  const std::uint8_t* group_ids = chap->idlist + nvme::kDescriptorHashSlots;
  // The strongest hash both sides allow (as SPDK). For the group, the cheapest FFDHE group both allow, the null
  // group only when nothing else is common: ffdhe8192 costs about a second of CPU per queue on a small machine,
  // and every queue authenticates. A host entry's dhchap_dhgroups narrows the choice (nvmet: dhchap_dhgroup).
  static const DhGroup kGroupPreference[] = {DhGroup::ffdhe2048, DhGroup::ffdhe3072, DhGroup::ffdhe4096,
                                            DhGroup::ffdhe6144, DhGroup::ffdhe8192, DhGroup::null};
  for (Hash h : all_hashes()) {
    if (!allowed(credentials_.hashes, h)) continue;
    if (std::find(hash_ids, hash_ids + chap->halen, static_cast<std::uint8_t>(h)) != hash_ids + chap->halen) {
      hash_ = h;
      break;
    }
  }
  if (!hash_) return fail(AuthFailure::hash_unusable);
  for (DhGroup g : kGroupPreference) {
    if (!allowed(credentials_.dhgroups, g)) continue;
    if (std::find(group_ids, group_ids + chap->dhlen, static_cast<std::uint8_t>(g)) != group_ids + chap->dhlen) {
      group_ = g;
      break;
    }
  }
  if (!group_) return fail(AuthFailure::dhgroup_unusable);
  state_ = State::challenge;
}

std::size_t DhchapController::challenge(std::span<std::uint8_t> buffer) {
  const std::size_t hl = hash_length(*hash_);
  const std::size_t dhvlen = dh_value_length(*group_);
  if (buffer.size() < sizeof(nvme::DhchapChallenge) + hl + dhvlen) {
    fail(AuthFailure::incorrect_payload);
    return failure1(buffer);
  }
  try {
    c1_ = random_bytes(hl);
    s1_ = fresh_seqnum();
    Bytes dhv;
    if (*group_ != DhGroup::null) {
      dh_key_ = std::make_unique<DhKey>(*group_);
      dhv = dh_key_->public_value();
    }
    nvme::DhchapChallenge msg{};
    msg.auth_type = static_cast<std::uint8_t>(AuthType::dhchap);
    msg.auth_id = static_cast<std::uint8_t>(AuthId::challenge);
    msg.t_id = t_id_;
    msg.hl = static_cast<std::uint8_t>(hl);
    msg.hashid = static_cast<std::uint8_t>(*hash_);
    msg.dhgid = static_cast<std::uint8_t>(*group_);
    msg.dhvlen = static_cast<std::uint16_t>(dhv.size());
    msg.seqnum = s1_;
    store(buffer, msg);
    std::memcpy(buffer.data() + sizeof msg, c1_.data(), hl);
    if (!dhv.empty()) std::memcpy(buffer.data() + sizeof msg + hl, dhv.data(), dhv.size());
    state_ = State::reply;
    return sizeof msg + hl + dhv.size();
  } catch (const CryptoError& e) {
    NVMF_LOG(error, "DH-HMAC-CHAP: challenge for host %s: %s", hostnqn_.c_str(), e.what());
    fail(AuthFailure::failed);
    return failure1(buffer);
  }
}

void DhchapController::reply(std::span<const std::uint8_t> message) {
  if (state_ != State::reply) return fail(AuthFailure::incorrect_protocol_message);
  if (message.size() < sizeof(nvme::DhchapReply)) return fail(AuthFailure::incorrect_payload);
  const auto hdr = load<nvme::DhchapReply>(message);
  const std::size_t hl = hash_length(*hash_);
  if (hdr.t_id != t_id_ || hdr.hl != hl) return fail(AuthFailure::incorrect_payload);
  if (message.size() != sizeof hdr + 2 * hl + hdr.dhvlen) return fail(AuthFailure::incorrect_payload);
  if (hdr.dhvlen != dh_value_length(*group_)) return fail(AuthFailure::incorrect_payload);
  if (hdr.cvalid > 1 || (hdr.cvalid && hdr.seqnum == 0)) return fail(AuthFailure::incorrect_payload);
  const auto r1 = message.subspan(sizeof hdr, hl);
  const auto c2 = message.subspan(sizeof hdr + hl, hl);
  const auto dhv = message.subspan(sizeof hdr + 2 * hl, hdr.dhvlen);
  try {
    Bytes session;
    if (dh_key_) {
      try {
        session = dh_key_->shared_secret(dhv);
      } catch (const CryptoError&) {
        return fail(AuthFailure::dhgroup_unusable);  // a value outside the group, as nvmet answers
      }
    }
    const Bytes kh = credentials_.host_key.transformed(hostnqn_);
    const Bytes expected = host_response({*hash_, kh, c1_, session, s1_, t_id_}, hostnqn_, subnqn_);
    if (!responses_equal(expected, r1)) return fail(AuthFailure::failed);
    if (hdr.cvalid) {
      // The host authenticates us too; without a controller key we cannot answer.
      if (!credentials_.ctrl_key) return fail(AuthFailure::failed);
      const Bytes kc = credentials_.ctrl_key->transformed(subnqn_);
      r2_ = controller_response({*hash_, kc, c2, session, hdr.seqnum, t_id_}, subnqn_, hostnqn_);
    }
    OPENSSL_cleanse(session.data(), session.size());
  } catch (const CryptoError& e) {
    NVMF_LOG(error, "DH-HMAC-CHAP: reply from host %s: %s", hostnqn_.c_str(), e.what());
    return fail(AuthFailure::failed);
  }
  dh_key_.reset();
  state_ = State::success1;
}

std::size_t DhchapController::success1(std::span<std::uint8_t> buffer) {
  const std::size_t hl = hash_length(*hash_);
  const bool rvalid = !r2_.empty();
  if (buffer.size() < sizeof(nvme::DhchapSuccess1) + (rvalid ? hl : 0)) {
    fail(AuthFailure::incorrect_payload);
    return failure1(buffer);
  }
  nvme::DhchapSuccess1 msg{};
  msg.auth_type = static_cast<std::uint8_t>(AuthType::dhchap);
  msg.auth_id = static_cast<std::uint8_t>(AuthId::success1);
  msg.t_id = t_id_;
  msg.hl = static_cast<std::uint8_t>(hl);
  msg.rvalid = rvalid ? 1 : 0;
  store(buffer, msg);
  if (rvalid) std::memcpy(buffer.data() + sizeof msg, r2_.data(), hl);
  forget_secrets();
  state_ = rvalid ? State::success2 : State::authenticated;
  if (!rvalid) NVMF_LOG(debug, "DH-HMAC-CHAP: host %s authenticated on %s", hostnqn_.c_str(), subnqn_.c_str());
  return sizeof msg + (rvalid ? hl : 0);
}

void DhchapController::success2(std::span<const std::uint8_t> message) {
  if (state_ != State::success2) return fail(AuthFailure::incorrect_protocol_message);
  if (message.size() != sizeof(nvme::DhchapSuccess2)) return fail(AuthFailure::incorrect_payload);
  if (load<nvme::DhchapSuccess2>(message).t_id != t_id_) return fail(AuthFailure::incorrect_payload);
  state_ = State::authenticated;
  NVMF_LOG(debug, "DH-HMAC-CHAP: host %s and controller %s authenticated each other", hostnqn_.c_str(),
           subnqn_.c_str());
}

void DhchapController::failure2(std::span<const std::uint8_t> message) {
  // AUTH_Failure2 answers our Success1: the host did not accept our response.
  if (state_ != State::success2) return fail(AuthFailure::incorrect_protocol_message);
  if (message.size() != sizeof(nvme::AuthFailureMessage)) return fail(AuthFailure::incorrect_payload);
  const auto msg = load<nvme::AuthFailureMessage>(message);
  if (msg.t_id != t_id_) return fail(AuthFailure::incorrect_payload);
  failure_ = static_cast<AuthFailure>(msg.rescode_exp);
  NVMF_LOG(info, "DH-HMAC-CHAP: host %s refused controller %s (reason 0x%02x)", hostnqn_.c_str(), subnqn_.c_str(),
           msg.rescode_exp);
  state_ = State::failed;
}

std::size_t DhchapController::failure1(std::span<std::uint8_t> buffer) {
  nvme::AuthFailureMessage msg{};
  msg.auth_type = static_cast<std::uint8_t>(AuthType::common);
  msg.auth_id = static_cast<std::uint8_t>(AuthId::failure1);
  msg.t_id = t_id_;
  msg.rescode = nvme::kAuthFailureReason;
  msg.rescode_exp = static_cast<std::uint8_t>(failure_.value_or(AuthFailure::failed));
  store(buffer, msg);
  state_ = State::failed;
  return sizeof msg;
}

}  // namespace nvmf::target
