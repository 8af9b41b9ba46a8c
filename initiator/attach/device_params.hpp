// The ublk device's parameters from the namespace's and controller's Identify data: logical and physical block
// size, capacity, largest transfer, volatile cache and FUA, discard and write-zeroes limits. Pure, unit-tested.
#pragma once
#include <cstdint>
#include <string>

#include "initiator/attach/ublk_uapi.hpp"
#include "initiator/namespace.hpp"
#include "nvme/libnvme.hpp"

namespace nvmf::initiator::ublk {

/// The per-request data buffer size: the namespace's largest transfer, capped at `cap_bytes` (the memory each
/// tag holds), a multiple of the block size and at least one block.
std::uint32_t io_buffer_bytes(const Namespace& ns, std::uint32_t cap_bytes);

/// ublk_params (basic + discard) for the namespace, `max_io_bytes` being io_buffer_bytes(). False and *why when
/// the block size is one the kernel's block layer cannot take (not a power of two, under 512 B, over a page).
bool device_params(const Namespace& ns, const nvme_id_ns& id_ns, const nvme_id_ctrl& id_ctrl,
                   std::uint32_t max_io_bytes, Params* out, std::string* why);

}  // namespace nvmf::initiator::ublk
