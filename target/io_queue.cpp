#include "target/io_queue.hpp"

#include <cstring>

#include "fabric/log.hpp"
#include "fabric/reactor.hpp"
#include "target/controller.hpp"
#include "target/io_queue_registry.hpp"

namespace nvmf::target {

namespace {
constexpr std::uint32_t kFuaBit = 1u << 30;         // CDW12 bit 30, Read/Write/Write Zeroes/Compare
constexpr std::uint32_t kDeacBit = 1u << 25;        // CDW12 bit 25, Write Zeroes: deallocate allowed
constexpr std::uint32_t kDsmDeallocate = 1u << 2;   // CDW11 bit 2, Dataset Management AD
constexpr std::uint32_t kDsmRangeSize = 16;

std::uint32_t nlb(const fabric::ControllerRequest& req) { return (req.sqe.cdw12 & 0xFFFF) + 1u; }
}  // namespace

IoQueue::IoQueue(fabric::ControllerQueue& queue, std::shared_ptr<Controller> controller, std::uint16_t qid,
                 std::uint16_t depth)
    : queue_(queue),
      reactor_(queue.reactor()),
      controller_(std::move(controller)),
      namespaces_(controller_->namespaces()),
      qid_(qid),
      depth_(depth),
      max_transfer_(controller_->limits().max_io_size),
      contexts_(queue.max_depth()),
      stats_(std::make_shared<QueueStats>(controller_->cntlid(), qid)),
      ana_(controller_->ana_states()),
      lends_(queue.sends_lent_data()) {
  index_stats();
  for (auto& ctx : contexts_) {
    ctx.owner = this;
    ctx.io.context = &ctx;
    ctx.io.done = &IoQueue::on_backend_done;
  }
  register_io_queue(reactor_, *this);  // range locks reach the queue through it (lba_range_lock.hpp)
}

IoQueue::~IoQueue() {
  unregister_io_queue(reactor_, *this);
  // Commands still here never complete: whoever waits for them waits no longer.
  for (auto& w : drain_waiters_) w.done();
  if (attached_) {
    controller_->detach_io_queue(token_);
    controller_->subsystem().retire_queue_stats(stats_);
  }
}

nvme::Status IoQueue::attach() {
  nvme::Status st = controller_->attach_io_queue(qid_, *this, reactor_, token_, namespaces_);
  if (!st.ok()) return st;
  attached_ = true;
  index_stats();  // attach_io_queue installed the controller's current table
  controller_->subsystem().register_queue_stats(stats_);
  return st;
}

void IoQueue::on_closed() {
  enabled_ = false;
  // The second of a waiting first fused command will never come (every request must still be completed).
  if (waiting_first_ != kNoSlot) {
    Context& first = contexts_[waiting_first_];
    waiting_first_ = kNoSlot;
    complete(first, nvme::Status::generic(NVME_SC_FUSED_MISSING));
  }
  if (attached_) controller_->detach_io_queue(token_);
}

void IoQueue::close() {
  enabled_ = false;
  queue_.close();
}

void IoQueue::set_namespaces(std::shared_ptr<const NamespaceTable> table) {
  if (in_flight_ > 0) retired_tables_.push_back(std::move(namespaces_));
  namespaces_ = std::move(table);
  index_stats();
}

void IoQueue::index_stats() {
  no_namespace_stats_ = stats_->block(0);
  stats_by_index_.clear();
  for (const auto& ns : namespaces_->all()) stats_by_index_.push_back(stats_->block(ns->nsid));
  reservation_by_index_.assign(namespaces_->all().size(), ReservationView{});
}

namespace {
OpClass op_class(std::uint8_t opcode) {
  switch (opcode) {
    case nvme_cmd_read:
    case nvme_cmd_compare: return OpClass::read;
    case nvme_cmd_write: return OpClass::write;
    default: return OpClass::other;
  }
}
}  // namespace

void IoQueue::finish(fabric::ControllerRequest& req, nvme::Status status, IoStats& stats) {
  req.set_status(status);
  if (!status.ok()) {
    stats.count_error(status);
    ErrorRecord rec;
    rec.sqid = qid_;
    rec.cid = req.sqe.cid;
    rec.status = status;
    rec.nsid = req.sqe.nsid;
    rec.lba = req.sqe.slba();
    controller_->record_error(rec);
    NVMF_LOG(debug, "controller %u qid %u: opcode 0x%02x cid %u failed: %s", controller_->cntlid(), qid_,
             req.sqe.opcode, req.sqe.cid, status.to_string().c_str());
    req.data_length = req.direction == fabric::DataDirection::controller_to_host ? 0 : req.data_length;
  }
  queue_.complete(req);
}

void IoQueue::complete(Context& ctx, nvme::Status status) {
  fabric::ControllerRequest& req = *ctx.req;
  if (ctx.scratch) {
    reactor_.buffers().put(ctx.scratch);
    ctx.scratch = nullptr;
  }
  ctx.stage = Stage::idle;
  ctx.req = nullptr;
  ctx.ns = nullptr;
  ctx.fused = FusedRole::none;
  ++ctx.use;
  if (!drain_waiters_.empty()) note_completion(static_cast<std::uint16_t>(&ctx - contexts_.data()));
  // The last command on a replaced table is done: its namespaces (and a removed one's backend) may go.
  set_in_flight(in_flight_ - 1);
  if (in_flight_ == 0 && !retired_tables_.empty()) retired_tables_.clear();
  if (status.ok()) {
    // Both ends are per-turn times: no clock read per command.
    const auto latency = reactor_.now() - ctx.started;
    const OpClass op = op_class(req.sqe.opcode);
    ctx.stats->count_success(op, op == OpClass::other ? 0 : ctx.bytes,
                             static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(latency).count()));
  }
  finish(req, status, *ctx.stats);
}

nvme::Status IoQueue::check_rw(const fabric::ControllerRequest& req, const Namespace& ns, std::uint32_t& bytes) const {
  const std::uint64_t slba = req.sqe.slba();
  const std::uint64_t count = nlb(req);
  const std::uint64_t length = count << ns.lba_shift;
  // MDTS first (Invalid Field, as SPDK), then the range (LBA Out of Range), then the SGL length (Data SGL
  // Length Invalid, as nvmet_check_transfer_len).
  if (length > max_transfer_) return nvme::Status::generic(NVME_SC_INVALID_FIELD);
  if (slba >= ns.blocks || count > ns.blocks - slba) return nvme::Status::generic(NVME_SC_LBA_RANGE);
  if (req.data_length != length || !req.data) return nvme::Status::generic(NVME_SC_SGL_INVALID_DATA);
  bytes = static_cast<std::uint32_t>(length);
  return nvme::Status::success();
}

void IoQueue::handle(fabric::ControllerRequest& req) {
  const std::ptrdiff_t ns_index = namespaces_->index_of(req.sqe.nsid);
  const Namespace* ns = ns_index < 0 ? nullptr : namespaces_->all()[static_cast<std::size_t>(ns_index)].get();
  if (req.data_borrowed && !writes_inline(req, ns)) queue_.keep_data(req);
  // Fused commands, and whatever follows a first fused command, go through the pairing (fused_commands.cpp).
  if (((req.sqe.flags & nvme::kFuseMask) != 0 || waiting_first_ != kNoSlot) && fused_arrival(req)) return;
  IoStats& stats = ns ? *stats_by_index_[static_cast<std::size_t>(ns_index)] : *no_namespace_stats_;
  // nvmet_check_ctrl_status: I/O after a reset or shutdown is a sequence error.
  if (!enabled_) return finish(req, nvme::Status::generic(NVME_SC_CMD_SEQ_ERROR), stats);
  switch (req.sqe.opcode) {
    case nvme_cmd_read:
    case nvme_cmd_write:
    case nvme_cmd_compare:
    case nvme_cmd_flush:
    case nvme_cmd_write_zeroes:
    case nvme_cmd_dsm:
    case nvme_cmd_resv_register:
    case nvme_cmd_resv_report:
    case nvme_cmd_resv_acquire:
    case nvme_cmd_resv_release:
      break;
    default:
      return finish(req, nvme::Status::generic(NVME_SC_INVALID_OPCODE), stats);
  }
  if (!ns) return finish(req, nvme::Status::generic(NVME_SC_INVALID_NS), stats);
  // nvmet_check_ana_state: a path that is not optimized / non-optimized for the namespace's group fails the
  // command with the ANA path status, so the host retries it elsewhere.
  if (ana_)
    if (nvme::Status st = ana_io_status(ana_->state(ns->anagrpid)); !st.ok()) return finish(req, st, stats);
  // An NVMe passthrough namespace reports no reservation capabilities (RESCAP 0): the commands are unknown to it.
  if (ns->backend->forwards_commands() && (req.sqe.opcode == nvme_cmd_resv_register || req.sqe.opcode == nvme_cmd_resv_report ||
                                           req.sqe.opcode == nvme_cmd_resv_acquire || req.sqe.opcode == nvme_cmd_resv_release))
    return finish(req, nvme::Status::generic(NVME_SC_INVALID_OPCODE), stats);
  if (nvme::Status st = check_reservation(static_cast<std::size_t>(ns_index), *ns, req.sqe.opcode); !st.ok())
    return finish(req, st, stats);

  dispatch(take_context(req, ns, stats));
}

bool IoQueue::writes_inline(const fabric::ControllerRequest& req, const Namespace* ns) const {
  // Every check before the backend call finishes the command at once or passes it on; only a fused pair, a
  // range lock (it parks the command: dispatch() keeps the data then) or a backend that keeps the buffer would
  // hold the data past on_command.
  return req.sqe.opcode == nvme_cmd_write && (req.sqe.flags & nvme::kFuseMask) == 0 && waiting_first_ == kNoSlot &&
         ns && ns->backend->consumes_write_data_inline();
}

IoQueue::Context& IoQueue::take_context(fabric::ControllerRequest& req, const Namespace* ns, IoStats& stats) {
  Context& ctx = contexts_[req.slot];
  ctx.req = &req;
  ctx.ns = ns;
  ctx.awaiting_data = false;
  ctx.stats = &stats;
  ctx.started = reactor_.turn_time();
  set_in_flight(in_flight_ + 1);
  ctx.scratch = nullptr;
  ctx.stage = Stage::idle;
  ctx.fused = FusedRole::none;
  return ctx;
}

void IoQueue::dispatch(Context& ctx) {
  // The range-lock gate: one relaxed load, unless a fused Compare and Write locks blocks of the namespace now.
  if (ctx.ns->range_lock->engaged() && !ctx.ns->range_lock->admit(command_range(ctx.req->sqe), reactor_)) {
    if (ctx.req->data_borrowed) queue_.keep_data(*ctx.req);  // parked past on_command
    ctx.stage = Stage::parked;  // retry_parked() runs it when the lock goes
    return;
  }
  start_command(ctx);
}

void IoQueue::retry_parked() {
  for (Context& ctx : contexts_) {
    if (ctx.stage == Stage::parked) {
      ctx.stage = Stage::idle;
      dispatch(ctx);
    } else if (ctx.stage == Stage::fused_locking && ctx.lock_id == 0) {
      fused_lock(ctx);
    }
  }
}

void IoQueue::when_range_drained(const LbaRangeLock& lock, const LbaRange& range, std::function<void()> done) {
  DrainWaiter waiter;
  for (std::size_t i = 0; i < contexts_.size(); ++i) {
    const Context& ctx = contexts_[i];
    // Past the gate: not parked, and not a fused pair (which waits for its own lock, never holds the backend).
    if (!ctx.req || !ctx.ns || ctx.ns->range_lock.get() != &lock || ctx.stage == Stage::parked ||
        ctx.fused != FusedRole::none || !command_range(ctx.req->sqe).overlaps(range))
      continue;
    waiter.slots.emplace_back(static_cast<std::uint16_t>(i), ctx.use);
  }
  if (waiter.slots.empty()) return done();
  waiter.done = std::move(done);
  drain_waiters_.push_back(std::move(waiter));
}

void IoQueue::start_command(Context& ctx) {
  fabric::ControllerRequest& req = *ctx.req;
  const Namespace* ns = ctx.ns;
  if (ns->backend->forwards_commands()) return handle_forwarded(ctx);
  nvme::Status st;
  switch (req.sqe.opcode) {
    case nvme_cmd_resv_register:
    case nvme_cmd_resv_report:
    case nvme_cmd_resv_acquire:
    case nvme_cmd_resv_release:
      return handle_reservation(ctx);
    case nvme_cmd_read:
      if (st = check_rw(req, *ns, ctx.bytes); !st.ok()) return complete(ctx, st);
      return start_read(ctx);
    case nvme_cmd_write:
    case nvme_cmd_compare:
      if (st = check_rw(req, *ns, ctx.bytes); !st.ok()) return complete(ctx, st);
      ctx.stage = req.sqe.opcode == nvme_cmd_write ? Stage::write : Stage::compare_read;
      if (!req.data_ready) return fetch_data(ctx);
      return req.sqe.opcode == nvme_cmd_write ? start_write(ctx) : start_compare(ctx);
    case nvme_cmd_flush:
      ctx.stage = Stage::flush;
      return ns->backend->flush(reactor_, ctx.io);
    case nvme_cmd_write_zeroes: {
      const std::uint64_t slba = req.sqe.slba(), count = nlb(req);
      if (slba >= ns->blocks || count > ns->blocks - slba) return complete(ctx, nvme::Status::generic(NVME_SC_LBA_RANGE));
      ctx.stage = Stage::write_zeroes;
      const std::uint64_t offset = slba << ns->lba_shift, length = count << ns->lba_shift;
      // DEAC lets us deallocate instead, when deallocated blocks read as zeroes (they do on every backend).
      if ((req.sqe.cdw12 & kDeacBit) && ns->backend->deallocate_reads_zeroes())
        return ns->backend->deallocate(reactor_, ctx.io, offset, length);
      return ns->backend->write_zeroes(reactor_, ctx.io, offset, length);
    }
    case nvme_cmd_dsm: {
      ctx.range_count = (req.sqe.cdw10 & 0xFF) + 1;
      // Only the deallocate attribute does anything; the integral hints (IDR/IDW) are advisory.
      if (!(req.sqe.cdw11 & kDsmDeallocate)) return complete(ctx, nvme::Status::success());
      if (req.data_length < ctx.range_count * kDsmRangeSize || !req.data)
        return complete(ctx, nvme::Status::generic(NVME_SC_SGL_INVALID_DATA));
      ctx.stage = Stage::dsm;
      if (!req.data_ready) return fetch_data(ctx);
      return start_dsm(ctx);
    }
  }
}

void IoQueue::fetch_data(Context& ctx) {
  ctx.awaiting_data = true;
  queue_.fetch_data(*ctx.req);
}

bool IoQueue::abort(std::uint16_t cid) {
  for (Context& ctx : contexts_) {
    if (!ctx.req || ctx.req->sqe.cid != cid) continue;
    if (ctx.fused != FusedRole::none) return false;  // a pair runs as one, to its end
    // Every other stage has handed the command to the backend, which io_uring cannot recall (nvmet does not
    // either): only a command whose data has not started moving can still be withdrawn, if the transport agrees.
    if (!ctx.awaiting_data || !queue_.cancel(*ctx.req)) return false;
    ctx.awaiting_data = false;
    NVMF_LOG(info, "controller %u qid %u: cid %u aborted before its data transfer", controller_->cntlid(), qid_, cid);
    complete(ctx, nvme::Status::generic(NVME_SC_ABORT_REQ));
    return true;
  }
  return false;  // completed already, or never seen: nothing to abort
}

void IoQueue::on_data(fabric::ControllerRequest& req) {
  Context& ctx = contexts_[req.slot];
  ctx.awaiting_data = false;
  if (ctx.fused != FusedRole::none) return fused_data(ctx);
  if (!req.status().ok()) return complete(ctx, req.status());  // the transfer itself failed
  switch (ctx.stage) {
    case Stage::write:
      return start_write(ctx);
    case Stage::compare_read:
      return start_compare(ctx);
    case Stage::dsm:
      return start_dsm(ctx);
    case Stage::forward:
      return start_forward(ctx);
    case Stage::reservation:
      return run_reservation(ctx);
    default:
      return complete(ctx, nvme::Status::make(NVME_SCT_GENERIC, NVME_SC_INTERNAL));
  }
}

void IoQueue::start_read(Context& ctx) {
  ctx.stage = Stage::read;
  fabric::ControllerRequest& req = *ctx.req;
  const std::uint64_t offset = req.sqe.slba() << ctx.ns->lba_shift;
  // A backend whose data cannot change under a send (null's zero page; ram_backend.hpp says why not RAM) lends
  // it, and the transport sends from there: no copy.
  // The lender shares ownership of the backend, so a namespace removed while the send is in the kernel keeps its
  // memory until the transport recycles the request.
  if (lends_) {
    if (const std::byte* lent = ctx.ns->backend->lend_read(offset, ctx.bytes)) {
      req.lent_data = lent;
      req.lender = std::shared_ptr<const void>(ctx.ns->backend, lent);
      return complete(ctx, nvme::Status::success());
    }
  }
  ctx.ns->backend->read(reactor_, ctx.io, offset, req.data, ctx.bytes);
}

void IoQueue::start_write(Context& ctx) {
  ctx.stage = Stage::write;
  const fabric::ControllerRequest& req = *ctx.req;
  // A disabled volatile write cache makes every write write-through (Set Features 06h).
  const bool fua = (req.sqe.cdw12 & kFuaBit) || !controller_->write_cache_enabled();
  ctx.ns->backend->write(reactor_, ctx.io, req.sqe.slba() << ctx.ns->lba_shift, req.data, ctx.bytes, fua);
}

void IoQueue::start_compare(Context& ctx) {
  if (ctx.bytes > reactor_.buffers().buffer_size()) return complete(ctx, nvme::Status::generic(NVME_SC_INVALID_FIELD));
  ctx.scratch = reactor_.buffers().get();
  ctx.stage = Stage::compare_read;
  ctx.ns->backend->read(reactor_, ctx.io, ctx.req->sqe.slba() << ctx.ns->lba_shift, ctx.scratch, ctx.bytes);
}

void IoQueue::start_dsm(Context& ctx) {
  // Validate every range before touching any (NVMe base spec: the command fails as a whole).
  const auto* ranges = reinterpret_cast<const nvme_dsm_range*>(ctx.req->data);
  for (std::uint32_t i = 0; i < ctx.range_count; ++i) {
    nvme_dsm_range r;
    std::memcpy(&r, ranges + i, sizeof r);
    if (r.nlb == 0) continue;
    if (r.slba >= ctx.ns->blocks || r.nlb > ctx.ns->blocks - r.slba)
      return complete(ctx, nvme::Status::generic(NVME_SC_LBA_RANGE));
  }
  ctx.next_range = 0;
  next_dsm_range(ctx);
}

void IoQueue::next_dsm_range(Context& ctx) {
  const auto* ranges = reinterpret_cast<const nvme_dsm_range*>(ctx.req->data);
  while (ctx.next_range < ctx.range_count) {
    nvme_dsm_range r;
    std::memcpy(&r, ranges + ctx.next_range, sizeof r);
    ++ctx.next_range;
    if (r.nlb == 0) continue;
    // One range at a time: the context has one BackendIo. A completion continues with the next range.
    return ctx.ns->backend->deallocate(reactor_, ctx.io, r.slba << ctx.ns->lba_shift,
                                       std::uint64_t(r.nlb) << ctx.ns->lba_shift);
  }
  complete(ctx, nvme::Status::success());
}

void IoQueue::handle_forwarded(Context& ctx) {
  fabric::ControllerRequest& req = *ctx.req;
  ctx.bytes = 0;
  switch (req.sqe.opcode) {
    case nvme_cmd_read:
    case nvme_cmd_write:
    case nvme_cmd_compare:
      // The same checks as for any namespace: the transfer we hand the drive must be the one the SGL describes.
      if (nvme::Status st = check_rw(req, *ctx.ns, ctx.bytes); !st.ok()) return complete(ctx, st);
      break;
    case nvme_cmd_dsm:
      // The range list travels to the drive, whatever the attributes (the drive decides what they do).
      ctx.bytes = ((req.sqe.cdw10 & 0xFF) + 1) * kDsmRangeSize;
      if (req.data_length < ctx.bytes || !req.data) return complete(ctx, nvme::Status::generic(NVME_SC_SGL_INVALID_DATA));
      break;
    default:  // Flush, Write Zeroes: no data
      break;
  }
  ctx.stage = Stage::forward;
  if (req.direction == fabric::DataDirection::host_to_controller && !req.data_ready) return fetch_data(ctx);
  start_forward(ctx);
}

void IoQueue::start_forward(Context& ctx) {
  fabric::ControllerRequest& req = *ctx.req;
  // A disabled volatile write cache makes every write write-through (Set Features 06h).
  const bool fua = !controller_->write_cache_enabled();
  ctx.ns->backend->forward(reactor_, ctx.io, req.sqe, ctx.bytes ? req.data : nullptr, ctx.bytes, fua);
}

void IoQueue::on_backend_done(BackendIo& io, int result) {
  auto& ctx = *static_cast<Context*>(io.context);
  ctx.owner->backend_done(ctx, result);
}

void IoQueue::backend_done(Context& ctx, int result) {
  fabric::ControllerRequest& req = *ctx.req;
  switch (ctx.stage) {
    case Stage::read:
      if (result < 0) return complete(ctx, backend_status(result, BackendOp::read));
      return complete(ctx, nvme::Status::success());
    case Stage::write:
      if (result < 0) return complete(ctx, backend_status(result, BackendOp::write));
      return complete(ctx, nvme::Status::success());
    case Stage::compare_read: {
      if (result < 0) return complete(ctx, backend_status(result, BackendOp::read));
      bool same = std::memcmp(ctx.scratch, req.data, ctx.bytes) == 0;
      return complete(ctx, same ? nvme::Status::success() : nvme::Status::media(NVME_SC_COMPARE_FAILED));
    }
    case Stage::flush:
      return complete(ctx, backend_status(result, BackendOp::flush));
    case Stage::write_zeroes:
      if (result < 0) return complete(ctx, backend_status(result, BackendOp::write_zeroes));
      if (req.sqe.cdw12 & kFuaBit) {
        ctx.stage = Stage::write_zeroes_flush;  // FUA: the zeroes must be durable before we answer
        return ctx.ns->backend->flush(reactor_, ctx.io);
      }
      return complete(ctx, nvme::Status::success());
    case Stage::write_zeroes_flush:
      return complete(ctx, backend_status(result, BackendOp::flush));
    case Stage::dsm:
      if (result < 0) return complete(ctx, backend_status(result, BackendOp::deallocate));
      return next_dsm_range(ctx);
    case Stage::forward:
      return complete(ctx, forwarded_status(result));
    case Stage::fused_compare:
    case Stage::fused_write:
      return fused_backend_done(ctx, result);
    case Stage::reservation:
    case Stage::idle:
    case Stage::parked:
    case Stage::fused_waiting:
    case Stage::fused_fetch:
    case Stage::fused_locking:
    case Stage::fused_partner:
      break;
  }
  complete(ctx, nvme::Status::make(NVME_SCT_GENERIC, NVME_SC_INTERNAL));
}

}  // namespace nvmf::target
