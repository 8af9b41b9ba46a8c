// Block device namespaces (`blk:/dev/sdX`): the file backend's io_uring path on the device node, with the
// device's own geometry. Capacity comes from BLKGETSIZE64 and the logical block size from BLKSSZGET (the
// namespace reports it: a host must never issue I/O smaller than the device's sector). I/O is O_DIRECT; FUA
// writes carry RWF_DSYNC; Flush is fdatasync, which the block layer turns into a device cache flush.
//
// Write Zeroes goes through IORING_OP_FALLOCATE with FALLOC_FL_ZERO_RANGE, which the kernel turns into
// blkdev_issue_zeroout (what BLKZEROOUT does, falling back to writing zeroes on a device without Write Zeroes),
// in io_uring's own workers: the reactor never waits for it.
//
// Deallocate (Dataset Management AD, as nvmet's bdev backend) is a discard: BLKDISCARD. That ioctl blocks for
// the whole range and has no io_uring or fallocate equivalent (Linux 6.1's vfs_fallocate refuses
// FALLOC_FL_NO_HIDE_STALE, the mode blkdev_fallocate maps to a discard), so it runs on a worker thread owned by
// the backend and its result is posted back to the submitting reactor. A discard promises nothing about what the
// blocks read afterwards, so the namespace reports DLFEAT 000b and Write Zeroes with DEAC writes zeroes. On a
// device without discard (queue/discard_max_bytes 0, or EOPNOTSUPP) Deallocate completes successfully without
// doing anything: the attribute is advisory (NVMe base spec, Dataset Management), ONCS keeps the DSM bit, and
// nvmet ignores EOPNOTSUPP the same way.
#pragma once
#include <memory>
#include <string>

#include "target/backends/backend.hpp"

namespace nvmf::target {

/// Opens `path`, which must be a block device that accepts O_DIRECT. Throws std::runtime_error naming the path.
std::shared_ptr<Backend> open_block_device(const std::string& path);

/// Whether the block device `rdev` (st_rdev) accepts discards, from sysfs (queue/discard_max_bytes, of the
/// whole disk for a partition). Unknown (no sysfs entry) counts as yes: the first EOPNOTSUPP settles it.
bool block_device_discards(dev_t rdev);

}  // namespace nvmf::target
