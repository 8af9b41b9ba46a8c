// Checks of the project's ublk declarations against the system's <linux/ublk_cmd.h> where it has them (Debian 12's
// is Linux 6.1's: the legacy opcodes, basic and discard parameters), and the descriptor area's size.
#include "initiator/attach/ublk_uapi.hpp"

#include <unistd.h>

#include <cerrno>

#if __has_include(<linux/ublk_cmd.h>)
#include <linux/ublk_cmd.h>
#define NVMF_HAVE_UBLK_HEADER 1
#endif

namespace nvmf::initiator::ublk {

#ifdef NVMF_HAVE_UBLK_HEADER
static_assert(kCmdAddDev == (UBLK_CMD_ADD_DEV & 0xff) && kCmdDelDev == (UBLK_CMD_DEL_DEV & 0xff));
static_assert(kCmdStartDev == (UBLK_CMD_START_DEV & 0xff) && kCmdStopDev == (UBLK_CMD_STOP_DEV & 0xff));
static_assert(kCmdSetParams == (UBLK_CMD_SET_PARAMS & 0xff) && kCmdGetDevInfo == (UBLK_CMD_GET_DEV_INFO & 0xff));
static_assert(kCmdStartUserRecovery == (UBLK_CMD_START_USER_RECOVERY & 0xff));
static_assert(kIoFetchReq == (UBLK_IO_FETCH_REQ & 0xff) && kIoCommitAndFetchReq == (UBLK_IO_COMMIT_AND_FETCH_REQ & 0xff));
static_assert(kIoResOk == UBLK_IO_RES_OK && kIoResAbort == UBLK_IO_RES_ABORT);
static_assert(kMaxQueueDepth == UBLK_MAX_QUEUE_DEPTH);
static_assert(kFlagUserRecovery == UBLK_F_USER_RECOVERY && kFlagNeedGetData == UBLK_F_NEED_GET_DATA);
static_assert(kOpRead == UBLK_IO_OP_READ && kOpWrite == UBLK_IO_OP_WRITE && kOpFlush == UBLK_IO_OP_FLUSH &&
              kOpDiscard == UBLK_IO_OP_DISCARD && kOpWriteZeroes == UBLK_IO_OP_WRITE_ZEROES);
static_assert(kIoFlagFua == UBLK_IO_F_FUA && kIoFlagNoUnmap == UBLK_IO_F_NOUNMAP);
static_assert(kParamTypeBasic == UBLK_PARAM_TYPE_BASIC && kParamTypeDiscard == UBLK_PARAM_TYPE_DISCARD);
static_assert(kAttrVolatileCache == UBLK_ATTR_VOLATILE_CACHE && kAttrFua == UBLK_ATTR_FUA);
static_assert(kStateLive == UBLK_S_DEV_LIVE && kStateQuiesced == UBLK_S_DEV_QUIESCED);
static_assert(sizeof(CtrlCmd) == sizeof(ublksrv_ctrl_cmd) && sizeof(CtrlDevInfo) == sizeof(ublksrv_ctrl_dev_info));
static_assert(offsetof(CtrlDevInfo, flags) == offsetof(ublksrv_ctrl_dev_info, flags));
static_assert(sizeof(IoDesc) == sizeof(ublksrv_io_desc) && sizeof(IoCmd) == sizeof(ublksrv_io_cmd));
static_assert(sizeof(ParamBasic) == sizeof(ublk_param_basic) && sizeof(ParamDiscard) == sizeof(ublk_param_discard));
static_assert(offsetof(ParamBasic, max_sectors) == offsetof(ublk_param_basic, max_sectors));
static_assert(offsetof(ParamDiscard, max_discard_segments) == offsetof(ublk_param_discard, max_discard_segments));
static_assert(offsetof(Params, discard) == offsetof(ublk_params, discard));
#endif

std::size_t max_descriptor_area() {
  // The driver's per-queue stride: room for the deepest queue's descriptors, rounded up to a page.
  const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  const std::size_t bytes = kMaxQueueDepth * sizeof(IoDesc);
  return (bytes + page - 1) / page * page;
}

}  // namespace nvmf::initiator::ublk
