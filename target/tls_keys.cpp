#include "target/tls_keys.hpp"

#include "nvme/tls_psk.hpp"

namespace nvmf::target {

fabric::tls::PskLookup make_psk_lookup(std::weak_ptr<const Registry> registry) {
  return [registry](const std::string& identity) {
    fabric::tls::PskMatch m;
    auto id = nvme::tls::parse_identity(identity);
    if (!id) {
      m.why = "PSK identity is not an NVMe one (NVMe0R0H/NVMe1R0H <hostnqn> <subnqn>)";
      return m;
    }
    m.host = id->hostnqn;
    auto reg = registry.lock();
    if (!reg) {
      m.why = "target stopping";
      return m;
    }
    auto host = reg->host(id->hostnqn);
    if (!host || host->tls_psk.empty()) {
      m.why = "no TLS PSK configured for this host";
      return m;
    }
    auto configured = nvme::tls::parse_interchange(host->tls_psk, &m.why);
    if (!configured) return m;  // validated when set; kept for safety
    auto psk = nvme::tls::psk_for_identity(*id, *configured, &m.why);
    if (!psk) return m;
    m.found = true;
    m.psk = std::move(*psk);
    return m;
  };
}

}  // namespace nvmf::target
