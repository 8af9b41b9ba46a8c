// The ublk user-space block driver's interface (include/uapi/linux/ublk_cmd.h), declared here because Debian 12's
// linux-libc-dev (6.1) lacks what newer kernels require: the ioctl-encoded command opcodes (mandatory when the
// kernel is built without CONFIG_BLKDEV_UBLK_LEGACY_OPCODES), GET_FEATURES, USER_COPY and the devt/zoned
// parameter blocks. Layouts are the kernel's; where the system header has a declaration, it is checked against
// ours at compile time (sizes, offsets and values).
#pragma once
#include <linux/ioctl.h>

#include <cstddef>
#include <cstdint>

namespace nvmf::initiator::ublk {

// ---- Commands on /dev/ublk-control (struct ctrl_cmd in the SQE128 command area) ----
inline constexpr std::uint32_t kCmdGetQueueAffinity = 0x01;
inline constexpr std::uint32_t kCmdGetDevInfo = 0x02;
inline constexpr std::uint32_t kCmdAddDev = 0x04;
inline constexpr std::uint32_t kCmdDelDev = 0x05;
inline constexpr std::uint32_t kCmdStartDev = 0x06;
inline constexpr std::uint32_t kCmdStopDev = 0x07;
inline constexpr std::uint32_t kCmdSetParams = 0x08;
inline constexpr std::uint32_t kCmdGetParams = 0x09;
inline constexpr std::uint32_t kCmdStartUserRecovery = 0x10;
inline constexpr std::uint32_t kCmdEndUserRecovery = 0x11;
inline constexpr std::uint32_t kCmdGetDevInfo2 = 0x12;  ///< Linux 6.5
inline constexpr std::uint32_t kCmdGetFeatures = 0x13;  ///< Linux 6.5

// ---- Commands on /dev/ublkcN (struct io_cmd in the 64-byte SQE's 16-byte command area) ----
inline constexpr std::uint32_t kIoFetchReq = 0x20;
inline constexpr std::uint32_t kIoCommitAndFetchReq = 0x21;
inline constexpr std::uint32_t kIoNeedGetData = 0x22;

/// A FETCH/COMMIT completion's result: a request is ready in the descriptor, or the queue is going away.
inline constexpr std::int32_t kIoResOk = 0;
inline constexpr std::int32_t kIoResNeedGetData = 1;
inline constexpr std::int32_t kIoResAbort = -19;  ///< -ENODEV: no re-fetch

/// mmap offset of queue q's descriptor array on /dev/ublkcN: q * the per-queue maximum below.
inline constexpr std::uint64_t kCmdBufOffset = 0;
inline constexpr std::uint32_t kMaxQueueDepth = 4096;  ///< The tag is 12 bits

// ---- Device flags (dev_info.flags), GET_FEATURES bits ----
inline constexpr std::uint64_t kFlagSupportZeroCopy = 1ULL << 0;
inline constexpr std::uint64_t kFlagUringCmdCompInTask = 1ULL << 1;
inline constexpr std::uint64_t kFlagNeedGetData = 1ULL << 2;
inline constexpr std::uint64_t kFlagUserRecovery = 1ULL << 3;
inline constexpr std::uint64_t kFlagUserRecoveryReissue = 1ULL << 4;
inline constexpr std::uint64_t kFlagUnprivilegedDev = 1ULL << 5;  ///< 6.5
inline constexpr std::uint64_t kFlagCmdIoctlEncode = 1ULL << 6;   ///< 6.5: the opcodes below are understood
inline constexpr std::uint64_t kFlagUserCopy = 1ULL << 7;         ///< 6.5: data through pread/pwrite on ublkcN

// ---- Device states (dev_info.state) ----
inline constexpr std::uint16_t kStateDead = 0;
inline constexpr std::uint16_t kStateLive = 1;
inline constexpr std::uint16_t kStateQuiesced = 2;

// ---- Request operations (low 8 bits of io_desc.op_flags) and flags (bits 8..31 as given) ----
inline constexpr std::uint8_t kOpRead = 0;
inline constexpr std::uint8_t kOpWrite = 1;
inline constexpr std::uint8_t kOpFlush = 2;
inline constexpr std::uint8_t kOpDiscard = 3;
inline constexpr std::uint8_t kOpWriteSame = 4;
inline constexpr std::uint8_t kOpWriteZeroes = 5;
inline constexpr std::uint32_t kIoFlagFua = 1U << 13;
inline constexpr std::uint32_t kIoFlagNoUnmap = 1U << 15;

// ---- Parameter blocks (ublk_params.types) and basic attributes ----
inline constexpr std::uint32_t kParamTypeBasic = 1U << 0;
inline constexpr std::uint32_t kParamTypeDiscard = 1U << 1;
inline constexpr std::uint32_t kParamTypeDevt = 1U << 2;  ///< 6.2, read-only (GET_PARAMS)
inline constexpr std::uint32_t kAttrReadOnly = 1U << 0;
inline constexpr std::uint32_t kAttrRotational = 1U << 1;
inline constexpr std::uint32_t kAttrVolatileCache = 1U << 2;
inline constexpr std::uint32_t kAttrFua = 1U << 3;

/// struct ublksrv_ctrl_cmd: every control command's header.
struct CtrlCmd {
  std::uint32_t dev_id;    ///< The device; UINT32_MAX with ADD_DEV picks a free id
  std::uint16_t queue_id;  ///< 0xffff unless the command is about one queue
  std::uint16_t len;       ///< Bytes at addr
  std::uint64_t addr;      ///< Command-specific buffer (in or out)
  std::uint64_t data[2];   ///< Inline arguments (START_DEV: the server's pid)
};
static_assert(sizeof(CtrlCmd) == 32);
static_assert(offsetof(CtrlCmd, queue_id) == 4 && offsetof(CtrlCmd, len) == 6 && offsetof(CtrlCmd, addr) == 8 &&
              offsetof(CtrlCmd, data) == 16);

/// struct ublksrv_ctrl_dev_info: ADD_DEV's request and reply, GET_DEV_INFO's reply.
struct CtrlDevInfo {
  std::uint16_t nr_hw_queues;
  std::uint16_t queue_depth;
  std::uint16_t state;
  std::uint16_t pad0;
  std::uint32_t max_io_buf_bytes;
  std::uint32_t dev_id;
  std::int32_t ublksrv_pid;
  std::uint32_t pad1;
  std::uint64_t flags;
  std::uint64_t ublksrv_flags;  ///< The server's own, the kernel keeps but ignores it
  std::uint32_t owner_uid;      ///< 6.5 (was reserved0)
  std::uint32_t owner_gid;
  std::uint64_t reserved1;
  std::uint64_t reserved2;
};
static_assert(sizeof(CtrlDevInfo) == 64);
static_assert(offsetof(CtrlDevInfo, state) == 4 && offsetof(CtrlDevInfo, max_io_buf_bytes) == 8 &&
              offsetof(CtrlDevInfo, dev_id) == 12 && offsetof(CtrlDevInfo, ublksrv_pid) == 16 &&
              offsetof(CtrlDevInfo, flags) == 24 && offsetof(CtrlDevInfo, ublksrv_flags) == 32 &&
              offsetof(CtrlDevInfo, owner_uid) == 40);

/// struct ublksrv_io_desc: one request, written by the driver into the mmapped array at the tag's index.
struct IoDesc {
  std::uint32_t op_flags;  ///< op: bits 0-7, flags: bits 8-31
  std::uint32_t nr_sectors;
  std::uint64_t start_sector;  ///< 512-byte sectors, whatever the logical block size
  std::uint64_t addr;          ///< The buffer given with FETCH (direct-buffer mode)

  std::uint8_t op() const { return static_cast<std::uint8_t>(op_flags & 0xff); }
};
static_assert(sizeof(IoDesc) == 24);
static_assert(offsetof(IoDesc, nr_sectors) == 4 && offsetof(IoDesc, start_sector) == 8 &&
              offsetof(IoDesc, addr) == 16);

/// struct ublksrv_io_cmd: FETCH_REQ and COMMIT_AND_FETCH_REQ.
struct IoCmd {
  std::uint16_t q_id;
  std::uint16_t tag;
  std::int32_t result;  ///< COMMIT: bytes transferred, or -errno
  std::uint64_t addr;   ///< The tag's data buffer
};
static_assert(sizeof(IoCmd) == 16);
static_assert(offsetof(IoCmd, tag) == 2 && offsetof(IoCmd, result) == 4 && offsetof(IoCmd, addr) == 8);

struct ParamBasic {
  std::uint32_t attrs;
  std::uint8_t logical_bs_shift;
  std::uint8_t physical_bs_shift;
  std::uint8_t io_opt_shift;
  std::uint8_t io_min_shift;
  std::uint32_t max_sectors;
  std::uint32_t chunk_sectors;
  std::uint64_t dev_sectors;
  std::uint64_t virt_boundary_mask;
};
static_assert(sizeof(ParamBasic) == 32);
static_assert(offsetof(ParamBasic, logical_bs_shift) == 4 && offsetof(ParamBasic, max_sectors) == 8 &&
              offsetof(ParamBasic, dev_sectors) == 16 && offsetof(ParamBasic, virt_boundary_mask) == 24);

struct ParamDiscard {
  std::uint32_t discard_alignment;
  std::uint32_t discard_granularity;
  std::uint32_t max_discard_sectors;
  std::uint32_t max_write_zeroes_sectors;
  std::uint16_t max_discard_segments;
  std::uint16_t reserved0;
};
static_assert(sizeof(ParamDiscard) == 20);
static_assert(offsetof(ParamDiscard, max_write_zeroes_sectors) == 12 &&
              offsetof(ParamDiscard, max_discard_segments) == 16);

/// struct ublk_param_devt (6.2): the char and block device numbers, filled by GET_PARAMS.
struct ParamDevt {
  std::uint32_t char_major;
  std::uint32_t char_minor;
  std::uint32_t disk_major;
  std::uint32_t disk_minor;
};
static_assert(sizeof(ParamDevt) == 16);

/// struct ublk_params as of 6.2 (basic, discard, devt). `len` says how much of it the server passes; a kernel
/// with fewer blocks takes the prefix it knows (6.1 has basic and discard only).
struct Params {
  std::uint32_t len;
  std::uint32_t types;
  ParamBasic basic;
  ParamDiscard discard;
  ParamDevt devt;
};
static_assert(sizeof(Params) == 80);  // 76 bytes of fields, 8-byte aligned as the kernel's
static_assert(offsetof(Params, basic) == 8 && offsetof(Params, discard) == 40 && offsetof(Params, devt) == 60);

// The ioctl-style opcodes (6.5+): _IOR/_IOWR('u', nr, the command's struct).
inline constexpr std::uint32_t ctrl_op(std::uint32_t nr, bool read_only) {
  return read_only ? static_cast<std::uint32_t>(_IOR('u', 0, CtrlCmd)) | nr
                   : static_cast<std::uint32_t>(_IOWR('u', 0, CtrlCmd)) | nr;
}
inline constexpr std::uint32_t io_op(std::uint32_t nr) { return static_cast<std::uint32_t>(_IOWR('u', 0, IoCmd)) | nr; }
// Values printed by the kernel's own definitions (UBLK_U_CMD_ADD_DEV and so on).
static_assert(ctrl_op(kCmdAddDev, false) == 0xc0207504u);
static_assert(ctrl_op(kCmdGetFeatures, true) == 0x80207513u);
static_assert(io_op(kIoFetchReq) == 0xc0107520u);
static_assert(io_op(kIoCommitAndFetchReq) == 0xc0107521u);

/// Per-queue size of the descriptor area the driver maps: the most descriptors a queue can have, page aligned.
std::size_t max_descriptor_area();
/// mmap offset of queue `q`'s descriptors on /dev/ublkcN.
inline std::uint64_t descriptor_offset(std::uint16_t q) { return kCmdBufOffset + q * max_descriptor_area(); }

}  // namespace nvmf::initiator::ublk
