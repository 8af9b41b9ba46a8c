#include "initiator/host_identity.hpp"

#include <cstdio>
#include <cstdlib>
#include <random>
#include <stdexcept>

#include "nvme/libnvme.hpp"
extern "C" {
#include <nvme/fabrics.h>
}

namespace nvmf::initiator {

namespace {
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string take_c_string(char* s) {
  if (!s) return {};
  std::string out(s);
  std::free(s);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

std::array<std::uint8_t, 16> random_uuid() {
  std::random_device rd;
  std::array<std::uint8_t, 16> b{};
  for (auto& x : b) x = static_cast<std::uint8_t>(rd());
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0f) | 0x40);  // RFC 4122 version 4
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3f) | 0x80);  // variant 10xx
  return b;
}

// The UUID inside "nqn.2014-08.org.nvmexpress:uuid:<uuid>", the form nvme-cli generates; the Linux host uses
// it as the host ID when no hostid file exists.
std::optional<std::array<std::uint8_t, 16>> uuid_from_nqn(const std::string& nqn) {
  auto pos = nqn.find(":uuid:");
  if (pos == std::string::npos) return std::nullopt;
  return parse_uuid(nqn.substr(pos + 6));
}
}  // namespace

std::optional<std::array<std::uint8_t, 16>> parse_uuid(const std::string& text) {
  if (text.size() != 36) return std::nullopt;
  std::array<std::uint8_t, 16> out{};
  std::size_t byte = 0;
  for (std::size_t i = 0; i < text.size();) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-') return std::nullopt;
      ++i;
      continue;
    }
    int hi = hex_value(text[i]), lo = hex_value(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[byte++] = static_cast<std::uint8_t>(hi << 4 | lo);
    i += 2;
  }
  return out;
}

std::string format_uuid(const std::array<std::uint8_t, 16>& b) {
  char s[37];
  std::snprintf(s, sizeof s, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
                b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
  return s;
}

std::string HostIdentity::hostid_string() const { return format_uuid(hostid); }

HostIdentity resolve_host_identity(const std::string& hostnqn, const std::string& hostid) {
  HostIdentity id;
  id.hostnqn = hostnqn.empty() ? take_c_string(nvmf_hostnqn_from_file()) : hostnqn;
  if (id.hostnqn.empty()) id.hostnqn = take_c_string(nvmf_hostnqn_generate());

  std::optional<std::array<std::uint8_t, 16>> parsed;
  if (!hostid.empty()) {
    parsed = parse_uuid(hostid);
    if (!parsed) throw std::invalid_argument("host ID '" + hostid + "' is not a UUID");
  } else if (std::string text = take_c_string(nvmf_hostid_from_file()); !text.empty()) {
    parsed = parse_uuid(text);  // a malformed file is ignored, as if absent
  }
  if (!parsed) parsed = uuid_from_nqn(id.hostnqn);
  id.hostid = parsed ? *parsed : random_uuid();
  if (id.hostnqn.empty()) id.hostnqn = "nqn.2014-08.org.nvmexpress:uuid:" + format_uuid(id.hostid);
  return id;
}

}  // namespace nvmf::initiator
