// Authentication Send and Receive on a connected queue (NVMe-oF 2.0, 6.3; NVMe Base 2.0, 8.13): command checks,
// the DH-HMAC-CHAP transaction (target/auth/dhchap_controller.cpp), the gate that keeps an unauthenticated
// queue closed to everything else, the transaction timeout and the end of the association on failure. Command
// field checks and their statuses follow nvmet's fabrics-cmd-auth.c.
#include <algorithm>
#include <cstring>

#include "fabric/log.hpp"
#include "fabric/reactor.hpp"
#include "nvme/auth_wire.hpp"
#include "nvme/fabrics.hpp"
#include "target/auth/dhchap_credentials.hpp"
#include "target/controller.hpp"
#include "target/queue_session.hpp"

namespace nvmf::target {

namespace {
/// The largest AUTH_Negotiate: 255 descriptors of 64 bytes after the 8-byte header. Nothing longer is a message.
constexpr std::uint32_t kMaxAuthMessage = sizeof(nvme::AuthNegotiate) + 255 * sizeof(nvme::AuthProtocolDescriptor);
/// Time for the AUTH_Failure1 response to leave before the connection goes (the host reads the reason).
constexpr std::chrono::milliseconds kFailureLinger{200};
}  // namespace

bool QueueSession::is_auth_command(const fabric::ControllerRequest& req) {
  if (req.sqe.opcode != nvme::kFabricsOpcode) return false;
  const std::uint8_t fctype = req.sqe.bytes()[4];
  return fctype == nvme_fabrics_type_auth_send || fctype == nvme_fabrics_type_auth_receive;
}

std::uint32_t QueueSession::require_authentication(const std::shared_ptr<Controller>& controller,
                                                   const std::string& hostnqn, const std::string& subnqn) {
  controller_ = controller;
  hostnqn_ = hostnqn;
  subnqn_ = subnqn;
  // As nvmet, the discovery controller serves every host without authentication.
  if (controller->is_discovery()) return 0;
  auto host = registry_->host(hostnqn);
  if (!host || host->dhchap_key.empty()) return 0;
  authenticated_ = false;
  arm_auth_timer();  // a host that never starts the transaction is dropped like one that stalls in it
  return nvme::kConnectAuthreqAtr;
}

void QueueSession::handle_auth(fabric::ControllerRequest& req) {
  const auto cmd = nvme::fabrics_view<nvme::AuthCommand>(req.sqe);
  if (cmd.secp != nvme::kAuthSecp || cmd.spsp0 != nvme::kAuthSpsp || cmd.spsp1 != nvme::kAuthSpsp ||
      cmd.length == 0 || cmd.length > kMaxAuthMessage)
    return reject(req, nvme::Status::generic(NVME_SC_INVALID_FIELD));
  // The SGL must describe exactly TL/AL bytes (nvmet_check_transfer_len).
  if (cmd.length != req.data_length || !req.data) return reject(req, nvme::Status::generic(NVME_SC_SGL_INVALID_DATA));
  // A host without a DH-HMAC-CHAP key has nothing to authenticate with: the queue never asked for it.
  auto host = registry_->host(hostnqn_);
  if (!auth_ && (!host || host->dhchap_key.empty() || controller_.expired() || subnqn_.empty()))
    return reject(req, nvme::Status::generic(NVME_SC_CMD_SEQ_ERROR));
  if (req.sqe.bytes()[4] == nvme_fabrics_type_auth_receive) return auth_receive(req);
  if (!req.data_ready) return queue_.fetch_data(req);
  finish_auth_send(req);
}

void QueueSession::finish_auth_send(fabric::ControllerRequest& req) {
  if (!req.status().ok()) return reject(req, req.status());
  const std::span<const std::uint8_t> message(reinterpret_cast<const std::uint8_t*>(req.data), req.data_length);
  // A Negotiate starts a transaction (again, for re-authentication) with the host's credentials of now: a key
  // changed at run time applies from the next transaction on.
  const bool negotiate = message.size() >= 2 && message[0] == static_cast<std::uint8_t>(nvme::AuthType::common) &&
                         message[1] == static_cast<std::uint8_t>(nvme::AuthId::negotiate);
  if (!auth_ || (negotiate && auth_->finished())) {
    auto host = registry_->host(hostnqn_);
    std::optional<DhchapCredentials> credentials = host ? dhchap_credentials(*host) : std::nullopt;
    if (!credentials) return reject(req, nvme::Status::generic(NVME_SC_CMD_SEQ_ERROR));
    auth_ = std::make_unique<DhchapController>(std::move(*credentials), hostnqn_, subnqn_);
  }
  auth_->on_send(message);
  req.set_status(nvme::Status::success());
  queue_.complete(req);
  after_auth_step();
}

void QueueSession::auth_receive(fabric::ControllerRequest& req) {
  if (!auth_) {
    auto host = registry_->host(hostnqn_);
    std::optional<DhchapCredentials> credentials = host ? dhchap_credentials(*host) : std::nullopt;
    if (!credentials) return reject(req, nvme::Status::generic(NVME_SC_CMD_SEQ_ERROR));
    auth_ = std::make_unique<DhchapController>(std::move(*credentials), hostnqn_, subnqn_);
  }
  const std::size_t n =
      auth_->on_receive(std::span(reinterpret_cast<std::uint8_t*>(req.data), static_cast<std::size_t>(req.data_length)));
  if (n == 0) return reject(req, nvme::Status::generic(NVME_SC_INVALID_FIELD));
  req.data_length = static_cast<std::uint32_t>(n);
  req.set_status(nvme::Status::success());
  queue_.complete(req);
  after_auth_step();
}

void QueueSession::after_auth_step() {
  switch (auth_->state()) {
    case DhchapController::State::authenticated:
      stop_auth_timer();
      // One line per transaction: a re-authentication (the Linux host's sysfs dhchap_secret) is logged too.
      NVMF_LOG(info, "host %s %s (DH-HMAC-CHAP %s, %s) from %s", hostnqn_.c_str(),
               authenticated_ ? "re-authenticated" : "authenticated", nvme::dhchap::hash_name(*auth_->hash()),
               nvme::dhchap::dhgroup_name(*auth_->dhgroup()), queue_.peer_address().c_str());
      authenticated_ = true;
      return;
    case DhchapController::State::failed:
      stop_auth_timer();
      NVMF_LOG(warn, "host %s from %s: DH-HMAC-CHAP authentication failed, ending the association",
               hostnqn_.c_str(), queue_.peer_address().c_str());
      authenticated_ = false;
      return end_association();
    default:
      return arm_auth_timer();
  }
}

void QueueSession::arm_auth_timer() {
  stop_auth_timer();
  auth_timer_ = queue_.reactor().add_timer(registry_->settings().auth_timeout, [this] {
    auth_timer_ = 0;
    auth_.reset();  // the DH key, the challenge and the expected responses go
    if (authenticated_) return;  // a re-authentication left unfinished: the queue keeps its earlier admission
    NVMF_LOG(warn, "host %s from %s: DH-HMAC-CHAP authentication timed out", hostnqn_.c_str(),
             queue_.peer_address().c_str());
    end_association();
  });
}

void QueueSession::stop_auth_timer() {
  if (auth_timer_) queue_.reactor().cancel_timer(auth_timer_);
  auth_timer_ = 0;
}

void QueueSession::end_association() {
  if (close_timer_ || state_ == SessionState::closed) return;
  // nvmet ends the whole association (nvmet_ctrl_fatal_error) whichever queue failed.
  close_timer_ = queue_.reactor().add_timer(kFailureLinger, [this] {
    close_timer_ = 0;
    if (auto controller = controller_.lock()) controller->request_close();
    queue_.close();
  });
}

}  // namespace nvmf::target
