// libFuzzer harness: the TLS PSK texts (NVMe/TCP 3.6.1.3-3.6.1.4, nvme/tls_psk.hpp). Two inputs reach them:
// the PSK interchange format from configuration, the command line and `nvmf target-ctl` (parse_interchange), and
// the PSK identity a host offers in its ClientHello, which the target parses before it knows who is talking
// (parse_identity, then psk_for_identity against that host's key).
//
// Input: [mode][text]. mode bit 0 clear: the text is an interchange key; an accepted key must have a legal
// length and survive format -> parse unchanged, and a refusal's reason must not repeat the key field. Bit 0 set:
// the text is an identity; an accepted identity must survive to_string -> parse unchanged, and the configured
// key (bits 1-2 pick one of four) may accept it only when the identity's hash is the key's and, for version 1,
// its digest is the HMAC the key gives: a made-up digest accepted would let a host without the key through.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "nvme/tls_psk.hpp"
#include "tls_key_fixture.hpp"

using namespace nvmf::nvme::tls;

namespace {

[[noreturn]] void finding(const char* what, std::string_view text) {
  std::fprintf(stderr, "%s: \"%.*s\"\n", what, static_cast<int>(text.size()), text.data());
  std::abort();
}

/// The base64 field of an interchange text ("NVMeTLSkey-1:HH:<field>:"), or empty.
std::string_view key_field(std::string_view text) {
  const auto first = text.find(':');
  if (first == std::string_view::npos) return {};
  const auto second = text.find(':', first + 1);
  if (second == std::string_view::npos) return {};
  const auto end = text.find(':', second + 1);
  return text.substr(second + 1, end == std::string_view::npos ? std::string_view::npos : end - second - 1);
}

void interchange(std::string_view text) {
  std::string error;
  const auto psk = parse_interchange(text, &error);
  if (!psk) {
    if (error.empty()) finding("refused without a reason", text);
    // Only a field that could be key material counts (base64, 16 characters or more): the fuzzer can otherwise
    // make the field a piece of the fixed message itself.
    const auto field = key_field(text);
    const bool base64 = field.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") ==
                        std::string_view::npos;
    if (base64 && field.size() >= 16 && error.find(field) != std::string::npos)
      finding("the reason repeats the key", text);
    return;
  }
  const std::size_t n = psk->key.size();
  if (!(n == 32 || n == 48) || (n == 48 && psk->hmac == kHashSha256) || (n == 32 && psk->hmac == kHashSha384))
    finding("accepted a key of the wrong length for its hash", text);
  const std::string again = format_interchange(*psk);
  const auto reparsed = parse_interchange(again, &error);
  if (!reparsed || reparsed->hmac != psk->hmac || !(reparsed->key == psk->key))
    finding("format -> parse changed the key", text);
}

void identity(std::string_view text, unsigned which_key) {
  const auto id = parse_identity(text);
  if (!id) return;
  if (id->version != 0 && id->version != 1) finding("accepted an identity version other than 0 and 1", text);
  const auto again = parse_identity(id->to_string());
  if (!again || again->version != id->version || again->hash != id->hash || again->hostnqn != id->hostnqn ||
      again->subnqn != id->subnqn || again->digest != id->digest)
    finding("to_string -> parse changed the identity", text);

  const ConfiguredPsk key = nvmf::fuzz::tls_fuzz_key(which_key);
  std::string why;
  const auto psk = psk_for_identity(*id, key, &why);
  if (!psk) {
    if (why.empty()) finding("identity refused without a reason", text);
    return;
  }
  if (id->hash != cipher_hash(key)) finding("accepted an identity whose hash is not the key's", text);
  if (id->version == 1 &&
      id->digest != identity_digest(id->hash, retained_psk(key, id->hostnqn), id->hostnqn, id->subnqn))
    finding("accepted a version-1 identity with a digest the key does not give", text);
  if (psk->identity != id->to_string() && psk->identity != std::string(text))
    finding("the TLS PSK is bound to another identity", text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t mode = data[0];
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  if (mode & 1)
    identity(text, (mode >> 1) & 3);
  else
    interchange(text);
  return 0;
}
