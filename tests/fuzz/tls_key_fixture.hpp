// The four configured keys fuzz_tls_key matches identities against (mode bits 1-2 pick one), shared with the
// corpus writer so that its version-1 seeds carry the digests these keys give. Fixed bytes: every run the same.
#pragma once
#include <cstddef>
#include <cstdint>

#include "nvme/tls_psk.hpp"

namespace nvmf::fuzz {

constexpr unsigned kTlsFuzzKeys = 4;

/// HH 00, 01 and 02 at their lengths (32, 32, 48), and a 48-byte HH 00.
inline nvme::tls::ConfiguredPsk tls_fuzz_key(unsigned which) {
  namespace tls = nvme::tls;
  static constexpr std::uint8_t kHh[kTlsFuzzKeys] = {tls::kHashNone, tls::kHashSha256, tls::kHashSha384,
                                                     tls::kHashNone};
  static constexpr std::size_t kLen[kTlsFuzzKeys] = {32, 32, 48, 48};
  tls::ConfiguredPsk k;
  k.hmac = kHh[which];
  k.key = tls::SecretBytes(kLen[which]);
  for (std::size_t i = 0; i < k.key.size(); ++i) k.key.data()[i] = static_cast<std::uint8_t>(0x5a ^ i * 7);
  return k;
}

}  // namespace nvmf::fuzz
