// The controller's side of one DH-HMAC-CHAP transaction on one queue (NVMe Base 2.0, 8.13.5): what each
// Authentication Send payload does to the transaction and what each Authentication Receive returns. No queue,
// no timer, no I/O: QueueSession feeds it messages (target/queue_auth.cpp), so tests can drive it directly.
//
//   negotiate --Send AUTH_Negotiate--> challenge --Receive--> reply --Send Reply--> success1 --Receive-->
//     done (unidirectional) | success2 --Send Success2--> done, --Send Failure2--> failed
// A bad message (wrong T_ID, length, order, hash, group, response) moves to failure1: the Send itself succeeds,
// the next Receive returns AUTH_Failure1 with the reason, and the transaction has failed (as nvmet and SPDK).
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

namespace nvmf::target {

/// What the target knows about one host's DH-HMAC-CHAP credentials when a transaction starts.
struct DhchapCredentials {
  nvme::dhchap::Secret host_key;                       ///< Checks the host (required)
  std::optional<nvme::dhchap::Secret> ctrl_key;        ///< Answers the host's challenge (bidirectional)
  std::vector<nvme::dhchap::Hash> hashes;              ///< Allowed; empty: every hash
  std::vector<nvme::dhchap::DhGroup> dhgroups;         ///< Allowed; empty: every group
};

class DhchapController {
 public:
  enum class State { negotiate, challenge, reply, success1, success2, failure1, authenticated, failed };

  DhchapController(DhchapCredentials credentials, std::string hostnqn, std::string subnqn);
  ~DhchapController();

  /// An Authentication Send payload (TL bytes).
  void on_send(std::span<const std::uint8_t> message);
  /// An Authentication Receive: writes the message into `buffer` (AL bytes) and returns its length, or 0 when
  /// the buffer cannot hold even an AUTH_Failure1 (the command then fails with Invalid Field).
  std::size_t on_receive(std::span<std::uint8_t> buffer);

  State state() const { return state_; }
  bool finished() const { return state_ == State::authenticated || state_ == State::failed; }
  /// The reason of the last failure (sent or to be sent in AUTH_Failure1, or received in AUTH_Failure2).
  std::optional<nvme::AuthFailure> failure() const { return failure_; }
  std::uint16_t t_id() const { return t_id_; }
  std::optional<nvme::dhchap::Hash> hash() const { return hash_; }
  std::optional<nvme::dhchap::DhGroup> dhgroup() const { return group_; }

 private:
  void negotiate(std::span<const std::uint8_t> message);
  void reply(std::span<const std::uint8_t> message);
  void success2(std::span<const std::uint8_t> message);
  void failure2(std::span<const std::uint8_t> message);
  std::size_t challenge(std::span<std::uint8_t> buffer);
  std::size_t success1(std::span<std::uint8_t> buffer);
  std::size_t failure1(std::span<std::uint8_t> buffer);
  void fail(nvme::AuthFailure reason);
  /// Drops the DH key, the challenge and the expected responses.
  void forget_secrets();

  DhchapCredentials credentials_;
  std::string hostnqn_, subnqn_;
  State state_ = State::negotiate;
  std::optional<nvme::AuthFailure> failure_;
  std::uint16_t t_id_ = 0;
  std::optional<nvme::dhchap::Hash> hash_;
  std::optional<nvme::dhchap::DhGroup> group_;
  std::unique_ptr<nvme::dhchap::DhKey> dh_key_;
  nvme::dhchap::Bytes c1_;
  std::uint32_t s1_ = 0;
  nvme::dhchap::Bytes r2_;  ///< Our answer to the host's challenge (bidirectional)
};

}  // namespace nvmf::target
