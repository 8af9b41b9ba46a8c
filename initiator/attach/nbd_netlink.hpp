// The kernel's NBD driver configured over generic netlink (family "nbd", include/uapi/linux/nbd-netlink.h): the way
// to serve a block device where the kernel has no ublk (Debian's 6.1). CONNECT hands the driver our ends of
// socket pairs with the size, block size, timeout and the server's flags; DISCONNECT ends it. Control path only.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace nvmf::initiator::nbd {

struct ConnectRequest {
  std::uint64_t size_bytes = 0;
  std::uint64_t block_size = 512;
  std::uint64_t timeout_seconds = 0;  ///< Per request; 0 keeps the driver's default
  std::uint64_t server_flags = 0;     ///< NBD_FLAG_*
  std::vector<int> socket_fds;        ///< One per connection (queue)
};

class Netlink {
 public:
  /// Open a generic netlink socket and resolve the "nbd" family. False and *error when the driver is missing.
  bool open(std::string* error);
  ~Netlink();

  /// NBD_CMD_CONNECT with any free device; the device index, or -1 and *error.
  int connect(const ConnectRequest& request, std::string* error);
  /// NBD_CMD_DISCONNECT of /dev/nbd<index>.
  bool disconnect(std::uint32_t index, std::string* error);

 private:
  /// Send one request and read until its acknowledgement; the reply's attributes of `want_attr` (u32) go to *value.
  bool transact(std::vector<char>& message, std::uint16_t want_attr, std::uint32_t* value, std::string* error);

  int fd_ = -1;
  std::uint16_t family_ = 0;
  std::uint32_t seq_ = 1;
};

}  // namespace nvmf::initiator::nbd
