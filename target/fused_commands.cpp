// Fused Compare and Write on an I/O queue (NVMe Base spec 2.0, "Fused Operations"; NVM command set, Compare):
// a Compare with FUSE 01b followed on the same SQ by a Write with FUSE 10b, same NSID and LBA range, runs as one
// operation: both halves' data is moved first, then the namespace's range lock is taken (lba_range_lock.hpp: no
// other command on those blocks, from any queue, is at the backend then), the blocks are read and compared, the
// write runs only when they match, and the lock goes before both complete.
//
// Statuses: a miscompare completes the Compare with Compare Failure (SCT 2h, SC 85h) and the Write with Command
// Aborted due to Failed Fused Command (SC 09h); a half that fails on its own (its checks, its data transfer, the
// backend) completes with its status and the other with 09h; a first not followed by a second fused command, or
// a second fused command with no first before it, completes with Missing Fused Command (SC 0Ah); a pair whose
// NSIDs or ranges differ completes with Invalid Field on both. FUSE 11b is reserved: Invalid Field.
#include <cstring>

#include "fabric/log.hpp"
#include "fabric/reactor.hpp"
#include "target/controller.hpp"
#include "target/io_queue.hpp"

namespace nvmf::target {

namespace {
constexpr std::uint8_t kFuseFirst = 1, kFuseSecond = 2;
constexpr std::uint32_t kFuaBit = 1u << 30;

nvme::Status failed_fused() { return nvme::Status::generic(NVME_SC_FUSED_FAIL); }
nvme::Status missing_fused() { return nvme::Status::generic(NVME_SC_FUSED_MISSING); }
nvme::Status invalid_field() { return nvme::Status::generic(NVME_SC_INVALID_FIELD); }

bool same_blocks(const nvme::Sqe& a, const nvme::Sqe& b) {
  return a.nsid == b.nsid && a.slba() == b.slba() && (a.cdw12 & 0xFFFF) == (b.cdw12 & 0xFFFF);
}
}  // namespace

bool IoQueue::fused_arrival(fabric::ControllerRequest& req) {
  const std::uint8_t fuse = req.sqe.flags & nvme::kFuseMask;
  if (waiting_first_ != kNoSlot) {
    Context& first = contexts_[waiting_first_];
    waiting_first_ = kNoSlot;
    if (fuse == kFuseSecond) {
      fused_pair(first, req);
      return true;
    }
    // The command after a first fused command is not its second: the first is an orphan; this one runs as itself.
    complete(first, missing_fused());
  }
  if (fuse == 0) return false;
  const Namespace* ns = nullptr;
  IoStats* stats = nullptr;
  std::uint32_t bytes = 0;
  const nvme::Status st = fused_checks(req, ns, stats, bytes);
  if (fuse == kFuseFirst) {
    // It waits for the next command, whatever its own verdict: a failed first fails its second (09h).
    Context& ctx = take_context(req, ns, *stats);
    ctx.fused = FusedRole::first;
    ctx.fused_status = st;
    ctx.bytes = bytes;
    ctx.lock_id = 0;
    ctx.stage = Stage::fused_waiting;
    waiting_first_ = req.slot;
    return true;
  }
  finish(req, fuse == kFuseSecond ? missing_fused() : invalid_field(), *stats);
  return true;
}

nvme::Status IoQueue::fused_checks(fabric::ControllerRequest& req, const Namespace*& ns, IoStats*& stats,
                                   std::uint32_t& bytes) {
  const std::ptrdiff_t ns_index = namespaces_->index_of(req.sqe.nsid);
  ns = ns_index < 0 ? nullptr : namespaces_->all()[static_cast<std::size_t>(ns_index)].get();
  stats = ns ? stats_by_index_[static_cast<std::size_t>(ns_index)] : no_namespace_stats_;
  // The same checks, in the same order, as handle() gives each command alone.
  if (!enabled_) return nvme::Status::generic(NVME_SC_CMD_SEQ_ERROR);
  const std::uint8_t fuse = req.sqe.flags & nvme::kFuseMask;
  if ((fuse == kFuseFirst && req.sqe.opcode != nvme_cmd_compare) ||
      (fuse == kFuseSecond && req.sqe.opcode != nvme_cmd_write))
    return invalid_field();  // Compare and Write is the one fused operation of the NVM command set
  if (!ns) return nvme::Status::generic(NVME_SC_INVALID_NS);
  if (ana_)
    if (nvme::Status st = ana_io_status(ana_->state(ns->anagrpid)); !st.ok()) return st;
  // An NVMe passthrough namespace hands commands to its drive one by one: no pair can be made atomic there (and
  // Identify Controller FUSES stays 0 on its controllers).
  if (ns->backend->forwards_commands()) return invalid_field();
  if (nvme::Status st = check_reservation(static_cast<std::size_t>(ns_index), *ns, req.sqe.opcode); !st.ok())
    return st;
  if (nvme::Status st = check_rw(req, *ns, bytes); !st.ok()) return st;
  if (fuse == kFuseFirst && bytes > reactor_.buffers().buffer_size()) return invalid_field();
  return nvme::Status::success();
}

void IoQueue::fused_pair(Context& first, fabric::ControllerRequest& second_req) {
  const Namespace* ns = nullptr;
  IoStats* stats = nullptr;
  std::uint32_t bytes = 0;
  const nvme::Status second_status = fused_checks(second_req, ns, stats, bytes);
  Context& second = take_context(second_req, ns, *stats);
  second.fused = FusedRole::second;
  second.fused_status = second_status;
  second.bytes = bytes;
  second.stage = Stage::fused_partner;
  second.partner = first.req->slot;
  first.partner = second_req.slot;
  if (!same_blocks(first.req->sqe, second_req.sqe)) return fused_finish(first, invalid_field(), invalid_field());
  if (!first.fused_status.ok()) return fused_finish(first, first.fused_status, failed_fused());
  if (!second_status.ok()) return fused_finish(first, failed_fused(), second_status);
  // Both halves' data first, so the lock is never held across a transfer from the host.
  first.stage = Stage::fused_fetch;
  first.fetches_left = static_cast<std::uint8_t>(!first.req->data_ready + !second_req.data_ready);
  if (first.fetches_left == 0) return fused_lock(first);
  // Counted before either starts: a transport may call on_data() from fetch_data().
  const bool fetch_first = !first.req->data_ready, fetch_second = !second_req.data_ready;
  if (fetch_first) fetch_data(first);
  if (fetch_second) fetch_data(second);
}

void IoQueue::fused_data(Context& half) {
  Context& first = half.fused == FusedRole::first ? half : contexts_[half.partner];
  if (!half.req->status().ok()) half.fused_status = half.req->status();  // the transfer itself failed
  if (--first.fetches_left > 0) return;
  Context& second = contexts_[first.partner];
  if (!first.fused_status.ok()) return fused_finish(first, first.fused_status, failed_fused());
  if (!second.fused_status.ok()) return fused_finish(first, failed_fused(), second.fused_status);
  fused_lock(first);
}

void IoQueue::fused_lock(Context& first) {
  first.stage = Stage::fused_locking;
  const auto slot = static_cast<std::uint16_t>(&first - contexts_.data());
  const std::uint32_t use = first.use;
  std::uint64_t id = 0;
  // The queue outlives the pair (a transport frees it only once every request completed), so `this` holds.
  if (!first.ns->range_lock->try_lock(command_range(first.req->sqe), reactor_,
                                      [this, slot, use] { fused_granted(slot, use); }, id))
    return;  // an overlapping lock: retry_parked() tries again when it goes
  first.lock_id = id;
}

void IoQueue::fused_granted(std::uint16_t slot, std::uint32_t use) {
  Context& first = contexts_[slot];
  if (first.use != use || first.stage != Stage::fused_locking) return;
  first.scratch = reactor_.buffers().get();
  first.stage = Stage::fused_compare;
  first.ns->backend->read(reactor_, first.io, first.req->sqe.slba() << first.ns->lba_shift, first.scratch, first.bytes);
}

void IoQueue::fused_backend_done(Context& ctx, int result) {
  if (ctx.stage == Stage::fused_compare) {
    Context& first = ctx;
    if (result < 0) return fused_finish(first, backend_status(result, BackendOp::read), failed_fused());
    if (std::memcmp(first.scratch, first.req->data, first.bytes) != 0)
      return fused_finish(first, nvme::Status::media(NVME_SC_COMPARE_FAILED), failed_fused());
    Context& second = contexts_[first.partner];
    second.stage = Stage::fused_write;
    const fabric::ControllerRequest& req = *second.req;
    // A disabled volatile write cache makes every write write-through (Set Features 06h), as start_write().
    const bool fua = (req.sqe.cdw12 & kFuaBit) || !controller_->write_cache_enabled();
    return second.ns->backend->write(reactor_, second.io, req.sqe.slba() << second.ns->lba_shift, req.data,
                                     second.bytes, fua);
  }
  Context& first = contexts_[ctx.partner];
  if (result < 0) return fused_finish(first, failed_fused(), backend_status(result, BackendOp::write));
  fused_finish(first, nvme::Status::success(), nvme::Status::success());
}

void IoQueue::fused_finish(Context& first, nvme::Status first_status, nvme::Status second_status) {
  Context& second = contexts_[first.partner];
  if (first.lock_id != 0) {
    first.ns->range_lock->unlock(first.lock_id);  // the blocks are written: the parked commands may run
    first.lock_id = 0;
  }
  NVMF_LOG(debug, "controller %u qid %u: fused compare cid %u / write cid %u: %s / %s", controller_->cntlid(), qid_,
           first.req->sqe.cid, second.req->sqe.cid, first_status.to_string().c_str(),
           second_status.to_string().c_str());
  complete(first, first_status);
  complete(second, second_status);
}

}  // namespace nvmf::target
