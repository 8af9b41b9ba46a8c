// Requests of the control socket, as JSON: {"op": "add-ns", "nqn": ..., "namespace": {...}} and so on; see
// docs/configuration.md. Replies are {"ok": true, ...} or {"ok": false, "error": {"field": JSON pointer into
// the request, "value": ..., "reason": ...}}; a refused request changed nothing.
#pragma once
#include <nlohmann/json.hpp>

namespace nvmf::target {

class Target;

nlohmann::json handle_control_request(Target& target, const nlohmann::json& request);

/// "subsystem.namespaces[0].size" -> "/subsystem/namespaces/0/size" (JSON pointers pass unchanged).
std::string field_to_pointer(const std::string& field);

}  // namespace nvmf::target
