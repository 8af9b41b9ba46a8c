// SGL descriptors (NVMe base spec 4.4). Fabrics hosts always put exactly one descriptor in the SQE's data pointer.
#pragma once
#include <cstddef>
#include <cstdint>

#include "nvme/endian.hpp"

namespace nvmf::nvme {

enum class SglType : std::uint8_t {
  data_block = 0x0,
  bit_bucket = 0x1,
  segment = 0x2,
  last_segment = 0x3,
  keyed_data_block = 0x4,
  transport_data_block = 0x5,
};

enum class SglSubtype : std::uint8_t {
  address = 0x0,
  offset = 0x1,
  transport_specific = 0xA,
  invalidate_key = 0xF,
};

/// Generic 16-byte SGL descriptor; interpret by type().
struct SglDescriptor {
  le64 address;           ///< Address, or offset into in-capsule data (subtype offset)
  le32 length;            ///< Length in bytes (unkeyed forms)
  std::uint8_t rsvd12[3];
  std::uint8_t id;        ///< SGL identifier: type << 4 | subtype

  SglType type() const { return static_cast<SglType>(id >> 4); }
  SglSubtype subtype() const { return static_cast<SglSubtype>(id & 0xF); }
  static constexpr std::uint8_t make_id(SglType t, SglSubtype s) {
    return static_cast<std::uint8_t>(static_cast<unsigned>(t) << 4 | static_cast<unsigned>(s));
  }
};
static_assert(sizeof(SglDescriptor) == 16);
static_assert(offsetof(SglDescriptor, address) == 0);
static_assert(offsetof(SglDescriptor, length) == 8);
static_assert(offsetof(SglDescriptor, id) == 15);

/// Keyed Data Block descriptor (type 4h), used by NVMe/RDMA: 24-bit length and a 32-bit remote key.
struct KeyedSglDescriptor {
  le64 address;
  std::uint8_t length[3];  ///< 24-bit little-endian length
  std::uint8_t key[4];     ///< le32 remote key, unaligned at offset 11
  std::uint8_t id;

  std::uint32_t get_length() const { return length[0] | length[1] << 8 | std::uint32_t(length[2]) << 16; }
  void set_length(std::uint32_t v) {
    length[0] = static_cast<std::uint8_t>(v);
    length[1] = static_cast<std::uint8_t>(v >> 8);
    length[2] = static_cast<std::uint8_t>(v >> 16);
  }
  std::uint32_t get_key() const {
    return key[0] | key[1] << 8 | key[2] << 16 | std::uint32_t(key[3]) << 24;
  }
  void set_key(std::uint32_t v) {
    for (int i = 0; i < 4; ++i) key[i] = static_cast<std::uint8_t>(v >> (8 * i));
  }
};
static_assert(sizeof(KeyedSglDescriptor) == 16);
static_assert(offsetof(KeyedSglDescriptor, address) == 0);
static_assert(offsetof(KeyedSglDescriptor, length) == 8);
static_assert(offsetof(KeyedSglDescriptor, key) == 11);
static_assert(offsetof(KeyedSglDescriptor, id) == 15);

}  // namespace nvmf::nvme
