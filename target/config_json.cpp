#include "target/config_json.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace nvmf::target {

namespace {
/// nvmetcli's files have "ports" (with "addr") or subsystems with "attr"; ours have "listeners".
ConfigFormat detect(const nlohmann::json& doc, const std::string& source) {
  if (!doc.is_object()) throw ConfigError(source + ": /", doc.dump(), "a configuration is a JSON object");
  bool nvmetcli = doc.contains("ports");
  if (doc.contains("subsystems") && doc["subsystems"].is_array())
    for (const auto& s : doc["subsystems"])
      nvmetcli |= s.is_object() && s.contains("attr");
  if (nvmetcli && doc.contains("listeners"))
    throw ConfigError(source + ": /listeners", "", "mixes the nvmetcli schema (\"ports\", \"attr\") with ours");
  return nvmetcli ? ConfigFormat::nvmetcli : ConfigFormat::native;
}
}  // namespace

LoadedConfig parse_config(const nlohmann::json& document, const std::string& source) {
  LoadedConfig loaded;
  try {
    loaded = detect(document, source) == ConfigFormat::nvmetcli ? parse_nvmetcli_config(document)
                                                                : parse_native_config(document);
  } catch (const ConfigError& e) {
    if (e.field().rfind(source + ":", 0) == 0) throw;
    throw e.renamed(source + ": " + e.field());
  }
  loaded.source = source;
  return loaded;
}

LoadedConfig load_config_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError(path, "", std::string("cannot read the configuration: ") + std::strerror(errno));
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::parse_error& e) {
    throw ConfigError(path, "", std::string("not valid JSON: ") + e.what());
  }
  return parse_config(doc, path);
}

ConfigError locate(const ConfigError& error, const LoadedConfig& loaded) {
  // The most specific field the file set: "a.b[1].c", else "a.b[1]", else "a.b"...
  std::string field = error.field();
  while (!field.empty()) {
    if (auto it = loaded.origins.find(field); it != loaded.origins.end())
      return error.renamed(loaded.source + ": " + it->second);
    auto cut = field.find_last_of(".[");
    if (cut == std::string::npos) break;
    field.resize(cut);
  }
  return error;
}

}  // namespace nvmf::target
