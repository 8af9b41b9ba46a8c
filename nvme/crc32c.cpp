#include "nvme/crc32c.hpp"

#include <isa-l/crc.h>

namespace nvmf::nvme {

std::uint32_t crc32c_update(std::uint32_t state, const void* data, std::size_t len) {
  // crc32_iscsi takes and returns the raw (un-inverted) state, which is what chaining needs.
  auto* p = static_cast<unsigned char*>(const_cast<void*>(data));
  while (len > 0) {
    int chunk = len > (1u << 30) ? (1 << 30) : static_cast<int>(len);
    state = crc32_iscsi(p, chunk, state);
    p += chunk;
    len -= static_cast<std::size_t>(chunk);
  }
  return state;
}

}  // namespace nvmf::nvme
