#include "initiator/dhchap_auth.hpp"

#include <atomic>
#include <stdexcept>
#include <vector>

#include "fabric/log.hpp"
#include "initiator/sync_command.hpp"
#include "nvme/auth_wire.hpp"
#include "nvme/fabrics.hpp"

namespace nvmf::initiator {

using namespace nvme::dhchap;

namespace {
nvme::Sqe auth_command(std::uint8_t fctype, std::uint32_t length) {
  nvme::AuthCommand c{};
  c.opcode = nvme::kFabricsOpcode;
  c.fctype = fctype;
  c.spsp0 = nvme::kAuthSpsp;
  c.spsp1 = nvme::kAuthSpsp;
  c.secp = nvme::kAuthSecp;
  c.length = length;
  return nvme::to_sqe(c);
}

/// T_ID: a different one for each transaction of this process (the Linux host counts up the same way).
std::uint16_t next_transaction_id() {
  static std::atomic<std::uint16_t> next{1};
  return next.fetch_add(1);
}
}  // namespace

std::optional<HostCredentials> host_credentials(const std::string& dhchap_secret,
                                                const std::string& dhchap_ctrl_secret) {
  if (dhchap_secret.empty()) {
    if (!dhchap_ctrl_secret.empty())
      throw std::invalid_argument("--dhchap-ctrl-secret needs --dhchap-secret (the host's own secret)");
    return std::nullopt;
  }
  HostCredentials c;
  try {
    c.host_key = parse_secret(dhchap_secret);
  } catch (const SecretError& e) {
    throw std::invalid_argument(std::string("--dhchap-secret: ") + e.what());
  }
  if (!dhchap_ctrl_secret.empty()) {
    try {
      c.ctrl_key = parse_secret(dhchap_ctrl_secret);
    } catch (const SecretError& e) {
      throw std::invalid_argument(std::string("--dhchap-ctrl-secret: ") + e.what());
    }
  }
  return c;
}

Error authenticate_after_connect(fabric::HostQueue& queue, std::uint32_t connect_dw0,
                                 const std::optional<HostCredentials>& credentials, const std::string& hostnqn,
                                 const std::string& subnqn, const std::string& what,
                                 std::chrono::milliseconds timeout) {
  const nvme::Status refused = nvme::Status::command_specific(NVME_SC_AUTH_REQUIRED);
  if (connect_dw0 & nvme::kConnectAuthreqAscr)
    return Error{refused, what + ": the controller requires secure channel concatenation (not supported)"};
  if (!(connect_dw0 & nvme::kConnectAuthreqAtr)) return {};
  if (!credentials)
    return Error{refused, what + ": the controller requires DH-HMAC-CHAP authentication; give --dhchap-secret"};
  return run_dhchap(queue, *credentials, hostnqn, subnqn, what, timeout);
}

Error run_dhchap(fabric::HostQueue& queue, const HostCredentials& credentials, const std::string& hostnqn,
                 const std::string& subnqn, const std::string& what, std::chrono::milliseconds timeout) {
  DhchapHost host(credentials, hostnqn, subnqn, next_transaction_id());
  auto send = [&](Bytes message, const char* step) -> Error {
    nvme::Status s = execute_sync(queue, auth_command(nvme_fabrics_type_auth_send, static_cast<std::uint32_t>(message.size())),
                                  message.data(), static_cast<std::uint32_t>(message.size()),
                                  fabric::DataDirection::host_to_controller, timeout);
    if (!s.ok()) return step_failed(what + ": Authentication Send (" + step + ")", s);
    return {};
  };
  std::vector<std::uint8_t> buffer(DhchapHost::kReceiveLength);
  auto receive = [&](const char* step, std::span<const std::uint8_t>* out) -> Error {
    nvme::Status s = execute_sync(queue, auth_command(nvme_fabrics_type_auth_receive, DhchapHost::kReceiveLength),
                                  buffer.data(), DhchapHost::kReceiveLength,
                                  fabric::DataDirection::controller_to_host, timeout);
    if (!s.ok()) return step_failed(what + ": Authentication Receive (" + step + ")", s);
    *out = std::span<const std::uint8_t>(buffer.data(), buffer.size());
    return {};
  };
  auto failed = [&]() {
    return Error{nvme::Status::command_specific(NVME_SC_AUTH_REQUIRED), what + ": DH-HMAC-CHAP: " + host.error()};
  };

  if (Error e = send(host.negotiate(), "AUTH_Negotiate")) return e;
  std::span<const std::uint8_t> message;
  if (Error e = receive("DH-HMAC-CHAP_Challenge", &message)) return e;
  Bytes reply = host.on_challenge(message);
  if (host.failed()) {
    // A bad Challenge is answered with AUTH_Failure2 (the controller then ends the association).
    if (!reply.empty()) send(reply, "AUTH_Failure2");
    return failed();
  }
  if (Error e = send(reply, "DH-HMAC-CHAP_Reply")) return e;
  if (Error e = receive("DH-HMAC-CHAP_Success1", &message)) return e;
  Bytes last = host.on_success1(message);
  if (!last.empty()) {
    if (Error e = send(last, host.failed() ? "AUTH_Failure2" : "DH-HMAC-CHAP_Success2")) return e;
  }
  if (host.failed()) return failed();
  // What was negotiated (never key material): the interop tests check it against the peer's configuration.
  NVMF_LOG(debug, "%s: DH-HMAC-CHAP authenticated (hash %s, DH group %s, %s)", what.c_str(),
           hash_name(*host.hash()), dhgroup_name(*host.dhgroup()),
           credentials.ctrl_key ? "bidirectional" : "unidirectional");
  return {};
}

}  // namespace nvmf::initiator
