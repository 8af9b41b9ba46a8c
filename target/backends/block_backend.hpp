// Block device namespaces (`blk:/dev/sdX`): the file backend's io_uring path on the device node, with the
// device's own geometry. Capacity comes from BLKGETSIZE64 and the logical block size from BLKSSZGET (the
// namespace reports it: a host must never issue I/O smaller than the device's sector). I/O is O_DIRECT; FUA
// writes carry RWF_DSYNC; Flush is fdatasync, which the block layer turns into a device cache flush.
// Write Zeroes and Deallocate go through IORING_OP_FALLOCATE, which for a block device the kernel turns into
// blkdev_issue_zeroout (ZERO_RANGE: what BLKZEROOUT does) and a zeroing unmap (PUNCH_HOLE), asynchronously:
// the BLKZEROOUT / BLKDISCARD ioctls would block the reactor for the whole range. BLKDISCARD's discard also
// does not promise zeroes, which Identify Namespace DLFEAT claims.
#pragma once
#include <memory>
#include <string>

#include "target/backends/backend.hpp"

namespace nvmf::target {

/// Opens `path`, which must be a block device that accepts O_DIRECT. Throws std::runtime_error naming the path.
std::shared_ptr<Backend> open_block_device(const std::string& path);

}  // namespace nvmf::target
