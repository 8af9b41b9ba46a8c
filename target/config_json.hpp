// Configuration files (`nvmf target --config FILE`). Two schemas, told apart by shape:
//  - the toolkit's own ("listeners", "subsystems" with "namespaces" of {"backend", "size" | "path", ...}),
//    written back by `nvmf target-ctl save-config`; see docs/configuration.md;
//  - the JSON nvmetcli saves for the Linux kernel target ("ports" with "addr", "subsystems" with "attr" and
//    namespaces with "device"), so a kernel target configuration moves over unchanged.
// Every refusal is a ConfigError whose field is "FILE: /json/pointer", with the value and the reason; a
// configuration that fails validation or cannot be opened later is located the same way (locate()).
#pragma once
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "target/config.hpp"

namespace nvmf::target {

enum class ConfigFormat { native, nvmetcli };

struct LoadedConfig {
  TargetConfig config;
  ConfigFormat format = ConfigFormat::native;
  std::string source;  ///< The file name, for messages
  /// Configuration field ("subsystems[0].namespaces[1].path") -> JSON pointer it was read from.
  std::map<std::string, std::string> origins;
};

/// Reads and parses `path`; throws ConfigError naming the file (unreadable, not JSON, bad field).
LoadedConfig load_config_file(const std::string& path);
/// Parses a document already read; `source` names it in errors.
LoadedConfig parse_config(const nlohmann::json& document, const std::string& source);
/// An error about a loaded configuration (validate(), opening a backend), named where its value came from:
/// "FILE: /subsystems/0/namespaces/1/device/path". Fields the file did not set keep their own name.
ConfigError locate(const ConfigError& error, const LoadedConfig& loaded);

/// The toolkit's own schema. to_json(config) read back by parse_config gives the same configuration.
nlohmann::json to_json(const TargetConfig& config);
/// Pieces of the toolkit's schema, for the control socket. `pointer` prefixes the names in errors.
SubsystemConfig parse_subsystem_json(const nlohmann::json& value, const std::string& pointer);
HostConfig parse_host_json(const nlohmann::json& value, const std::string& pointer);
nlohmann::json host_to_json(const HostConfig& config);
NamespaceConfig parse_namespace_json(const nlohmann::json& value, const std::string& pointer);
fabric::ListenAddress parse_address_json(const nlohmann::json& value, const std::string& pointer);
nlohmann::json subsystem_to_json(const SubsystemConfig& config);
nlohmann::json namespace_to_json(const NamespaceConfig& config);

// Internal: the two schema readers (config_native.cpp, config_nvmetcli.cpp).
LoadedConfig parse_native_config(const nlohmann::json& document);
LoadedConfig parse_nvmetcli_config(const nlohmann::json& document);

}  // namespace nvmf::target
