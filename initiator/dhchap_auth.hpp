// The host's in-band authentication of one queue (NVMe-oF 2.0, 6.3): after a Connect whose response carries
// AUTHREQ, run the DH-HMAC-CHAP transaction (nvme/dhchap_host) over Authentication Send/Receive before any other
// command, as the Linux host's nvme_auth_negotiate does for every queue.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "fabric/host_transport.hpp"
#include "initiator/error.hpp"
#include "nvme/dhchap_host.hpp"

namespace nvmf::initiator {

/// The parsed secrets of ControllerOptions::dhchap_secret / dhchap_ctrl_secret; no value without a host secret.
/// Throws std::invalid_argument naming the option (never the secret) when one does not parse.
std::optional<nvme::dhchap::HostCredentials> host_credentials(const std::string& dhchap_secret,
                                                              const std::string& dhchap_ctrl_secret);

/// Acts on a Connect response's DW0: nothing when it does not ask for authentication, an error when it asks and
/// the host has no secret (or asks for secure channel concatenation), else the transaction. `what` names the
/// queue in messages ("admin queue", "I/O queue 3").
Error authenticate_after_connect(fabric::HostQueue& queue, std::uint32_t connect_dw0,
                                 const std::optional<nvme::dhchap::HostCredentials>& credentials,
                                 const std::string& hostnqn, const std::string& subnqn, const std::string& what,
                                 std::chrono::milliseconds timeout);

/// One DH-HMAC-CHAP transaction on a connected queue (also re-authentication of an admitted queue).
Error run_dhchap(fabric::HostQueue& queue, const nvme::dhchap::HostCredentials& credentials,
                 const std::string& hostnqn, const std::string& subnqn, const std::string& what,
                 std::chrono::milliseconds timeout);

}  // namespace nvmf::initiator
