// nvmf gen-tls-key and nvmf check-tls-key: nvme-cli 2.3's commands of those names, same options and output.
// A TLS PSK in the NVMe interchange format is "NVMeTLSkey-1:HH:<base64 of key || CRC-32>:" (NVMe TCP 3.6.1.5).
#include <cstdio>
#include <iostream>

#include "nvme/tls_psk.hpp"
#include "utils/commands.hpp"

namespace nvmf::cli {

namespace {

struct TlsKeyArgs {
  std::string secret;
  int hmac = 1;
  std::string key;
};

/// Hex characters to key bytes; empty on a bad digit.
nvme::tls::SecretBytes from_hex(const std::string& hex) {
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (hex.size() % 2) return {};
  nvme::tls::SecretBytes out(hex.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int hi = digit(hex[2 * i]), lo = digit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return {};
    out.data()[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return out;
}

}  // namespace

void add_tls_key_commands(CLI::App& app) {
  auto args = std::make_shared<TlsKeyArgs>();
  CLI::App* gen = app.add_subcommand("gen-tls-key", "Generate a TLS key in NVMe PSK Interchange format");
  gen->add_option("-s,--secret", args->secret,
                  "Optional secret (in hexadecimal characters) to be used for the TLS key (random when absent)");
  gen->add_option("-m,--hmac", args->hmac, "HMAC function to use for the retained key (1 = SHA-256, 2 = SHA-384)")
      ->check(CLI::IsMember({1, 2}))
      ->capture_default_str();
  gen->callback([args] {
    const std::size_t length = args->hmac == 2 ? 48 : 32;
    nvme::tls::ConfiguredPsk psk;
    if (args->secret.empty()) {
      psk = nvme::tls::generate_psk(static_cast<std::uint8_t>(args->hmac));
    } else {
      psk.hmac = static_cast<std::uint8_t>(args->hmac);
      psk.key = from_hex(args->secret);
      if (psk.key.size() != length) {
        std::fprintf(stderr, "Invalid secret: %zu hexadecimal characters needed for HMAC %d\n", 2 * length,
                     args->hmac);
        throw CLI::RuntimeError(1);
      }
    }
    std::printf("%s\n", nvme::tls::format_interchange(psk).c_str());
  });

  CLI::App* check = app.add_subcommand("check-tls-key", "Check a TLS key for NVMe PSK Interchange format");
  check->add_option("-k,--key", args->key, "TLS key (in PSK Interchange format) to be validated")->required();
  check->callback([args] {
    std::string why;
    auto psk = nvme::tls::parse_interchange(args->key, &why);
    if (!psk) {
      std::fprintf(stderr, "%s\n", why.c_str());
      throw CLI::RuntimeError(1);
    }
    std::printf("Key is valid (HMAC %u, length %zu, CRC %08x)\n", psk->hmac, psk->key.size(),
                nvme::tls::crc32_ieee(psk->key.data(), psk->key.size()));
  });
}

}  // namespace nvmf::cli
