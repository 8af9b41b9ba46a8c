// libFuzzer harness: configuration files, both schemas (ours and nvmetcli's, told apart by parse_config), as
// `nvmf target --config` reads them: JSON text -> parse_config -> validate. Anything wrong must be refused with a
// ConfigError (file, field, reason); any other exception escaping is a finding. A configuration that is
// accepted must survive its own round trip: to_json -> parse_config -> to_json gives the same document.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fabric/log.hpp"
#include "target/config_json.hpp"

using namespace nvmf;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // NVMF_FUZZ_LOG=1 keeps the product's own log level, to see why an input ends as it does.
  // Ignored nvmetcli attributes are logged as warnings.
  if (!std::getenv("NVMF_FUZZ_LOG")) log::set_level(log::Level::error);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  nlohmann::json doc = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return 0;  // not JSON: load_config_file refuses it before parse_config
  target::LoadedConfig loaded;
  try {
    loaded = target::parse_config(doc, "fuzz.json");
    loaded.config.validate();
  } catch (const target::ConfigError&) {
    return 0;
  }
  const nlohmann::json saved = target::to_json(loaded.config);
  nlohmann::json again;
  try {
    again = target::to_json(target::parse_config(saved, "saved.json").config);
  } catch (const target::ConfigError& e) {
    std::fprintf(stderr, "saved configuration refused: %s\n%s\n", e.what(), saved.dump(2).c_str());
    std::abort();
  }
  if (again != saved) {
    std::fprintf(stderr, "round trip changed the configuration:\n%s\n%s\n", saved.dump(2).c_str(),
                 again.dump(2).c_str());
    std::abort();
  }
  return 0;
}
