// Opening libfabric objects for the ofi transport: the fi_info of a provider chosen by name for connection-
// oriented endpoints (FI_EP_MSG) with messages and RMA (FI_MSG | FI_RMA), and a fabric shared by the objects
// opened from it. Both roles start here: the listener with FI_SOURCE (the address is ours), the host without.
#pragma once
#include <rdma/fabric.h>

#include <cstdint>
#include <memory>
#include <string>

namespace nvmf::fabric::ofi {

/// The API version we ask for: 1.9 has the mr_mode bits, FI_OPT_CM_DATA_SIZE and fi_trywait as we use them.
inline constexpr std::uint32_t kApiVersion = FI_VERSION(1, 9);

/// "fi_getinfo: No data available (-61)"
std::string error_text(const char* what, int ret);

struct InfoDeleter {
  void operator()(fi_info* info) const { fi_freeinfo(info); }
};
using InfoPtr = std::unique_ptr<fi_info, InfoDeleter>;

/// The first fi_info of `provider` for `node`:`service`. `passive`: the address is local (a listener).
/// nullptr and *error naming provider, address and reason on failure.
InfoPtr get_info(const std::string& provider, const std::string& node, const std::string& service, bool passive,
                 std::string* error);

/// A fabric object, shared (shared_ptr) by a listener and the queues opened on it: fi_trywait takes the fabric.
class Fabric {
 public:
  /// nullptr and *error on failure.
  static std::shared_ptr<Fabric> open(const fi_info& info, std::string* error);
  ~Fabric();
  fid_fabric* get() const { return fabric_; }

 private:
  fid_fabric* fabric_ = nullptr;
};

/// fi_close on any object, ignoring errors (teardown).
inline void close_fid(fid* f) {
  if (f) fi_close(f);
}

}  // namespace nvmf::fabric::ofi
