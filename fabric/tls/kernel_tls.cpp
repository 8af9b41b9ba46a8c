#include "fabric/tls/kernel_tls.hpp"

#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#ifndef SOL_TLS
#define SOL_TLS 282  // include/linux/socket.h; not in every libc's headers
#endif

namespace nvmf::fabric::tls {

namespace {

/// RFC 8446 7.3: the traffic key and the 12-byte IV of one direction.
struct TrafficKey {
  std::uint8_t key[32];
  std::uint8_t iv[12];
  ~TrafficKey() { OPENSSL_cleanse(this, sizeof(*this)); }
};

bool derive(const char* digest, const std::vector<std::uint8_t>& secret, std::size_t key_len, TrafficKey& out) {
  return !secret.empty() && expand_label(digest, secret.data(), secret.size(), "key", out.key, key_len) &&
         expand_label(digest, secret.data(), secret.size(), "iv", out.iv, sizeof(out.iv));
}

/// linux/tls.h: salt is the IV's first 4 bytes, iv its last 8; the kernel forms each nonce from both and the
/// record sequence number as RFC 8446 5.3 does.
template <typename Info>
void fill(Info& info, int cipher, const TrafficKey& k, std::size_t key_len) {
  std::memset(&info, 0, sizeof(info));
  info.info.version = TLS_1_3_VERSION;
  info.info.cipher_type = static_cast<std::uint16_t>(cipher);
  std::memcpy(info.key, k.key, key_len);
  std::memcpy(info.salt, k.iv, sizeof(info.salt));
  std::memcpy(info.iv, k.iv + sizeof(info.salt), sizeof(info.iv));
  // rec_seq stays 0: no record has been sent or received under the application traffic keys yet.
}

template <typename Info>
int set_keys(int fd, int cipher, std::size_t key_len, const TrafficKey& tx, const TrafficKey& rx, bool& tx_set) {
  Info info;
  fill(info, cipher, tx, key_len);
  int r = ::setsockopt(fd, SOL_TLS, TLS_TX, &info, sizeof(info));
  if (r == 0) {
    tx_set = true;
    fill(info, cipher, rx, key_len);
    r = ::setsockopt(fd, SOL_TLS, TLS_RX, &info, sizeof(info));
  }
  const int err = r == 0 ? 0 : errno;
  OPENSSL_cleanse(&info, sizeof(info));
  return err;
}

}  // namespace

bool expand_label(const char* digest, const std::uint8_t* secret, std::size_t secret_len, const char* label,
                  std::uint8_t* out, std::size_t out_len) {
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "TLS13-KDF", nullptr);
  EVP_KDF_CTX* ctx = kdf ? EVP_KDF_CTX_new(kdf) : nullptr;
  EVP_KDF_free(kdf);
  if (!ctx) return false;
  int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
  static const char kPrefix[] = "tls13 ";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>(digest), 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<std::uint8_t*>(secret), secret_len),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PREFIX, const_cast<char*>(kPrefix), sizeof(kPrefix) - 1),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_LABEL, const_cast<char*>(label), std::strlen(label)),
      OSSL_PARAM_construct_end(),
  };
  const bool ok = EVP_KDF_derive(ctx, out, out_len, params) == 1;
  EVP_KDF_CTX_free(ctx);
  return ok;
}

bool kernel_tls_disabled() {
  // Read per connection (not per I/O), so a test can change it.
  const char* v = std::getenv("NVMF_TLS_USERSPACE");
  return v && *v && std::strcmp(v, "0") != 0;
}

KernelTls install_kernel_tls(int fd, SSL* ssl, const TrafficSecrets& secrets, bool server, std::string& why) {
  const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl);
  const std::uint32_t id = cipher ? SSL_CIPHER_get_id(cipher) : 0;
  // TLS_AES_128_GCM_SHA256 {0x13,0x01}, TLS_AES_256_GCM_SHA384 {0x13,0x02} (RFC 8446 B.4).
  const bool aes256 = id == 0x03001302;
  if (id != 0x03001301 && !aes256) {
    why = "suite not supported by kernel TLS";
    return KernelTls::unavailable;
  }
  const char* digest = aes256 ? "SHA384" : "SHA256";
  const std::size_t key_len = aes256 ? 32 : 16;
  TrafficKey client, server_key;
  if (!derive(digest, secrets.client, key_len, client) || !derive(digest, secrets.server, key_len, server_key)) {
    why = secrets.client.empty() || secrets.server.empty() ? "traffic secrets unknown" : "key derivation failed";
    return KernelTls::unavailable;
  }
  if (::setsockopt(fd, SOL_TCP, TCP_ULP, "tls", sizeof("tls")) != 0) {
    why = errno == ENOENT ? "the kernel has no tls ULP" : std::string("TCP_ULP tls: ") + std::strerror(errno);
    return KernelTls::unavailable;
  }
  // A `tls` ULP socket without keys still moves bytes as they are: until TLS_TX is in, user space can take over.
  const TrafficKey& tx = server ? server_key : client;
  const TrafficKey& rx = server ? client : server_key;
  bool tx_set = false;
  const int err = aes256 ? set_keys<tls12_crypto_info_aes_gcm_256>(fd, TLS_CIPHER_AES_GCM_256, key_len, tx, rx, tx_set)
                         : set_keys<tls12_crypto_info_aes_gcm_128>(fd, TLS_CIPHER_AES_GCM_128, key_len, tx, rx, tx_set);
  if (err == 0) return KernelTls::installed;
  why = std::string(tx_set ? "TLS_RX: " : "TLS_TX: ") + std::strerror(err);
  return tx_set ? KernelTls::broken : KernelTls::unavailable;
}

}  // namespace nvmf::fabric::tls
