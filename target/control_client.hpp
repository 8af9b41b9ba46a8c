// The client side of the control socket (`nvmf target-ctl`): one request, one reply.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace nvmf::target {

inline constexpr const char* kDefaultControlSocket = "/run/nvmf/target.sock";

/// Sends `request` to the target listening on `socket_path` and returns its reply. Throws std::runtime_error
/// naming the socket when it cannot be reached or the reply is not JSON.
nlohmann::json control_request(const std::string& socket_path, const nlohmann::json& request);

}  // namespace nvmf::target
