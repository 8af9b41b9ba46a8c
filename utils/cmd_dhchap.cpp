// nvme-cli's gen-dhchap-key and check-dhchap-key: DH-HMAC-CHAP secrets in the spec's DHHC-1 representation
// (nvme/dhchap_secret). Same options as nvme-cli 2.3: -s hex secret, -l key length, -m HMAC, -n NQN; -k key.
#include <CLI/CLI.hpp>
#include <cctype>
#include <cstdio>
#include <memory>

#include "initiator/host_identity.hpp"
#include "nvme/dhchap_secret.hpp"
#include "utils/commands.hpp"

namespace nvmf::cli {

namespace {
using namespace nvme::dhchap;

struct GenArgs {
  std::string secret_hex;
  unsigned key_length = 0;  ///< 0: the HMAC's length (32 without one), as nvme-cli
  unsigned hmac = 0;
  std::string nqn;
};

Bytes parse_hex(const std::string& text) {
  if (text.size() % 2) throw CLI::ValidationError("--secret", "an even number of hexadecimal characters");
  Bytes out;
  for (std::size_t i = 0; i < text.size(); i += 2) {
    unsigned v = 0;
    if (std::sscanf(text.c_str() + i, "%2x", &v) != 1 || !std::isxdigit(static_cast<unsigned char>(text[i])) ||
        !std::isxdigit(static_cast<unsigned char>(text[i + 1])))
      throw CLI::ValidationError("--secret", "not hexadecimal");
    out.push_back(static_cast<std::uint8_t>(v));
  }
  return out;
}
}  // namespace

void add_dhchap_commands(CLI::App& app) {
  auto g = std::make_shared<GenArgs>();
  CLI::App* gen = app.add_subcommand("gen-dhchap-key", "Generate a DH-HMAC-CHAP secret (DHHC-1:HH:...:)");
  gen->add_option("-s,--secret", g->secret_hex, "Secret in hexadecimal to use instead of random bytes");
  gen->add_option("-l,--key-length", g->key_length, "Key length in bytes: 32, 48 or 64")
      ->check(CLI::IsMember({32u, 48u, 64u}));
  gen->add_option("-m,--hmac", g->hmac, "Key transformation: 0 none, 1 SHA-256, 2 SHA-384, 3 SHA-512")
      ->check(CLI::Range(0u, 3u))
      ->capture_default_str();
  gen->add_option("-n,--nqn", g->nqn, "Host NQN for the transformation (default /etc/nvme/hostnqn)");
  gen->callback([g] {
    std::optional<Hash> hash = g->hmac ? std::optional<Hash>(static_cast<Hash>(g->hmac)) : std::nullopt;
    std::size_t length = g->key_length ? g->key_length : (hash ? hash_length(*hash) : 32);
    std::optional<Bytes> seed;
    if (!g->secret_hex.empty()) {
      seed = parse_hex(g->secret_hex);
      if (!g->key_length) length = seed->size();
    }
    std::string nqn = g->nqn;
    if (hash && nqn.empty()) nqn = initiator::resolve_host_identity("", "").hostnqn;
    try {
      std::printf("%s\n", format_secret(generate_secret(length, hash, nqn, seed)).c_str());
    } catch (const SecretError& e) {
      throw CLI::ValidationError("gen-dhchap-key", e.what());
    }
  });

  auto key = std::make_shared<std::string>();
  CLI::App* check = app.add_subcommand("check-dhchap-key", "Check a DH-HMAC-CHAP secret's format and CRC");
  check->add_option("-k,--key", *key, "The secret (DHHC-1:HH:...:)")->required();
  check->callback([key] {
    try {
      Secret s = parse_secret(*key);
      std::printf("Key is valid (HMAC %u, length %zu, CRC %08x)\n",
                  s.key_hash ? static_cast<unsigned>(*s.key_hash) : 0u, s.key.size(), secret_crc(s.key));
    } catch (const SecretError& e) {
      std::fprintf(stderr, "Key is not valid: %s\n", e.what());
      throw CLI::RuntimeError(1);
    }
  });
}

}  // namespace nvmf::cli
