// libFuzzer harness: NVMe/RDMA CM private data (fabric/rdma/cm_private_data.cpp) as it arrives from the peer:
// a connect request on the controller side, an accept and a reject on the host side. The first byte picks the
// host's IRD and the controller's limits; the rest is the private data as rdma_cm delivered it.
// An accepted request must respect the limits it was checked against.
#include <cstdio>
#include <cstdlib>

#include "fabric/rdma/cm_private_data.hpp"

using namespace nvmf::fabric::rdma;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t control = data[0];
  const std::uint8_t* pd = data + 1;
  const std::size_t len = size - 1;

  CmLimits limits;
  limits.max_queue_depth = static_cast<std::uint16_t>(1u << (control & 7));  // 1 .. 128
  limits.device_max_read_depth = static_cast<std::uint8_t>(8 * ((control >> 3) & 3) + 1);  // 1 .. 25
  const std::uint8_t host_ird = static_cast<std::uint8_t>(control >> 5) * 4;
  CmValidation v = validate_connect_request(len ? pd : nullptr, len, host_ird, limits);
  if (!v.reject) {
    const CmConnectParams& p = v.params;
    if (p.queue_depth == 0 || p.queue_depth > limits.max_queue_depth || p.read_depth > limits.device_max_read_depth ||
        p.read_depth > host_ird) {
      std::fprintf(stderr, "accepted outside the limits: depth %u (max %u), read depth %u (device %u, host %u)\n",
                   p.queue_depth, limits.max_queue_depth, p.read_depth, limits.device_max_read_depth, host_ird);
      std::abort();
    }
  } else if (v.reason.empty()) {
    std::fprintf(stderr, "rejected without a reason\n");
    std::abort();
  }
  (void)parse_accept(len ? pd : nullptr, len);
  (void)describe_reject(len ? pd : nullptr, len);
  return 0;
}
