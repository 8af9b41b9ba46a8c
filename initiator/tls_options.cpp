#include "initiator/tls_options.hpp"

#include <fstream>

#include "nvme/fabrics.hpp"
#include "nvme/tls_psk.hpp"

namespace nvmf::initiator {

std::string read_tls_key_argument(const std::string& value, std::string* why) {
  if (value.rfind("NVMeTLSkey-", 0) == 0) return value;
  std::ifstream in(value);
  std::string line;
  if (!in || !std::getline(in, line)) {
    *why = "TLS key: '" + value + "' is neither a key in interchange format nor a readable file";
    return {};
  }
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}

std::shared_ptr<const fabric::tls::ClientContext> make_tls_client(const ControllerOptions& options,
                                                                 const std::string& hostnqn, std::string* why) {
  if (options.transport != "tcp") {
    *why = "TLS is an NVMe/TCP secure channel (transport " + options.transport + ")";
    return nullptr;
  }
  if (options.tls_key.empty()) {
    *why = "--tls needs --tls-key (a key in interchange format or a file holding it; the kernel keyring is not read)";
    return nullptr;
  }
  const std::string text = read_tls_key_argument(options.tls_key, why);
  if (text.empty()) return nullptr;
  auto configured = nvme::tls::parse_interchange(text, why);
  if (!configured) return nullptr;
  const std::string subnqn = options.subnqn.empty() ? std::string(nvme::kDiscoveryNqn) : options.subnqn;
  try {
    return std::make_shared<fabric::tls::ClientContext>(
        nvme::tls::derive_tls_psk(*configured, hostnqn, subnqn, options.tls_identity_version));
  } catch (const std::exception& e) {
    *why = std::string("TLS: ") + e.what();
    return nullptr;
  }
}

}  // namespace nvmf::initiator
