// The host's side of one DH-HMAC-CHAP transaction (NVMe Base 2.0, 8.13.5) as pure message processing: build
// AUTH_Negotiate, answer the controller's Challenge with a Reply, check Success1 (and the controller's response
// when bidirectional) and answer with Success2, or with AUTH_Failure2 when the controller fails the check. The
// initiator drives it over Authentication Send/Receive (initiator/dhchap_auth.cpp); tests use it to play a host.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "nvme/auth_wire.hpp"
#include "nvme/dhchap_crypto.hpp"
#include "nvme/dhchap_secret.hpp"

namespace nvmf::nvme::dhchap {

struct HostCredentials {
  Secret host_key;
  std::optional<Secret> ctrl_key;  ///< Set: authenticate the controller too (bidirectional)
  std::vector<Hash> hashes = {Hash::sha256, Hash::sha384, Hash::sha512};  ///< Offered, in this order
  std::vector<DhGroup> dhgroups = {DhGroup::null,      DhGroup::ffdhe2048, DhGroup::ffdhe3072,
                                   DhGroup::ffdhe4096, DhGroup::ffdhe6144, DhGroup::ffdhe8192};
};

class DhchapHost {
 public:
  /// Room an Authentication Receive needs for any controller message (a Challenge with an ffdhe8192 value).
  static constexpr std::uint32_t kReceiveLength = 4096;

  DhchapHost(HostCredentials credentials, std::string hostnqn, std::string subnqn, std::uint16_t t_id);
  ~DhchapHost();

  Bytes negotiate() const;
  /// The controller's answer to Negotiate: a Challenge gives the Reply to send; a Failure1 or a bad Challenge
  /// fails the transaction (the return value is then empty, as the host sends nothing more).
  Bytes on_challenge(std::span<const std::uint8_t> message);
  /// The controller's answer to the Reply: Success1 ends a unidirectional transaction (nothing to send);
  /// bidirectional, it gives Success2, or Failure2 when the controller's response is wrong.
  Bytes on_success1(std::span<const std::uint8_t> message);

  bool failed() const { return failed_; }
  bool authenticated() const { return authenticated_; }
  /// Why it failed, for an error message (never key material).
  const std::string& error() const { return error_; }
  std::optional<AuthFailure> failure() const { return failure_; }
  std::optional<Hash> hash() const { return hash_; }
  std::optional<DhGroup> dhgroup() const { return group_; }

 private:
  Bytes fail(std::string why, std::optional<AuthFailure> reason, bool send_failure2);
  bool controller_failure(std::span<const std::uint8_t> message);

  HostCredentials credentials_;
  std::string hostnqn_, subnqn_;
  std::uint16_t t_id_;
  std::optional<Hash> hash_;
  std::optional<DhGroup> group_;
  Bytes c2_;
  Bytes expected_r2_;
  bool failed_ = false, authenticated_ = false;
  std::string error_;
  std::optional<AuthFailure> failure_;
};

/// Human-readable AUTH_Failure reason explanation.
const char* failure_text(AuthFailure reason);

}  // namespace nvmf::nvme::dhchap
