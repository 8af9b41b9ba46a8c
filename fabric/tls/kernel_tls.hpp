// Kernel TLS (the Linux `tls` ULP) for a TLS 1.3 session whose handshake OpenSSL did in user space: the
// application traffic keys go to the socket with setsockopt(TLS_TX / TLS_RX) and the PDU code keeps using the
// plain TCP socket. Where the kernel has no `tls` ULP the channel keeps the user-space record layer.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "fabric/tls/tls_context.hpp"

namespace nvmf::fabric::tls {

/// HKDF-Expand-Label(secret, label, "", out_len) of RFC 8446 7.1, through OpenSSL's TLS13-KDF. `digest` is
/// the suite's hash ("SHA256", "SHA384"). False when OpenSSL fails.
bool expand_label(const char* digest, const std::uint8_t* secret, std::size_t secret_len, const char* label,
                  std::uint8_t* out, std::size_t out_len);

/// NVMF_TLS_USERSPACE set to anything but "" or "0": every connection keeps the user-space record layer.
bool kernel_tls_disabled();

enum class KernelTls {
  installed,    ///< The socket encrypts and decrypts in the kernel from now on
  unavailable,  ///< Nothing changed on the socket (no `tls` ULP, or a suite the kernel lacks): use user space
  broken,       ///< The socket is half set up (transmit keys in, receive refused): the connection must end
};
/// Hands the session's application traffic keys (record sequence 0 both ways: nothing but the handshake has
/// been exchanged) to the kernel. `why` says why when it is not installed (never a key).
KernelTls install_kernel_tls(int fd, SSL* ssl, const TrafficSecrets& secrets, bool server, std::string& why);

}  // namespace nvmf::fabric::tls
