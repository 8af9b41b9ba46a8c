#include "target/auth/dhchap_credentials.hpp"

namespace nvmf::target {

using namespace nvme::dhchap;

namespace {
/// Stands for the value in errors about secrets.
constexpr const char* kHidden = "(secret not shown)";

void check_secret_field(const std::string& field, const std::string& text) {
  std::string why;
  if (!check_secret(text, &why)) throw ConfigError(field, kHidden, why);
}
}  // namespace

void validate_dhchap(const HostConfig& host, const std::string& field) {
  if (!host.dhchap_key.empty()) check_secret_field(field + ".dhchap_key", host.dhchap_key);
  if (!host.dhchap_ctrl_key.empty()) {
    if (host.dhchap_key.empty())
      throw ConfigError(field + ".dhchap_ctrl_key", kHidden, "a controller key needs a host key (dhchap_key)");
    check_secret_field(field + ".dhchap_ctrl_key", host.dhchap_ctrl_key);
  }
  for (std::size_t i = 0; i < host.dhchap_hashes.size(); ++i)
    if (!hash_from_name(host.dhchap_hashes[i]))
      throw ConfigError(field + ".dhchap_hashes[" + std::to_string(i) + "]", host.dhchap_hashes[i],
                        "unknown hash (sha256, sha384, sha512)");
  for (std::size_t i = 0; i < host.dhchap_dhgroups.size(); ++i)
    if (!dhgroup_from_name(host.dhchap_dhgroups[i]))
      throw ConfigError(field + ".dhchap_dhgroups[" + std::to_string(i) + "]", host.dhchap_dhgroups[i],
                        "unknown DH group (null, ffdhe2048, ffdhe3072, ffdhe4096, ffdhe6144, ffdhe8192)");
}

std::optional<DhchapCredentials> dhchap_credentials(const HostConfig& host) {
  if (host.dhchap_key.empty()) return std::nullopt;
  DhchapCredentials c;
  c.host_key = parse_secret(host.dhchap_key);
  if (!host.dhchap_ctrl_key.empty()) c.ctrl_key = parse_secret(host.dhchap_ctrl_key);
  for (const auto& h : host.dhchap_hashes) c.hashes.push_back(*hash_from_name(h));
  for (const auto& g : host.dhchap_dhgroups) c.dhgroups.push_back(*dhgroup_from_name(g));
  return c;
}

}  // namespace nvmf::target
