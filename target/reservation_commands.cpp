// The reservation commands of the NVM command set on an I/O queue (Reservation Register 0Dh, Report 0Eh,
// Acquire 11h, Release 15h) and the reservation conflict check every other command passes. The state machine is
// NamespaceReservations; this file parses the commands, moves their data and delivers the notifications to the
// controllers of the hosts concerned.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>

#include "fabric/log.hpp"
#include "target/controller.hpp"
#include "target/io_queue.hpp"

namespace nvmf::target {

namespace {
constexpr std::uint32_t kIekeyBit = 1u << 3;  // CDW10 bit 3 of Register, Acquire and Release
constexpr std::uint32_t kEdsBit = 1u << 0;    // Report CDW11 bit 0: extended data structure

std::uint8_t action_of(std::uint32_t cdw10) { return cdw10 & 0x7; }
std::uint8_t rtype_of(std::uint32_t cdw10) { return static_cast<std::uint8_t>(cdw10 >> 8); }

/// Bytes of host data each command carries: CRKEY + NRKEY, CRKEY + PRKEY, CRKEY.
std::uint32_t data_size(std::uint8_t opcode) { return opcode == nvme_cmd_resv_release ? 8 : 16; }

bool in_read_group(std::uint8_t opcode) { return opcode == nvme_cmd_read || opcode == nvme_cmd_compare; }
bool in_write_group(std::uint8_t opcode) {
  return opcode == nvme_cmd_write || opcode == nvme_cmd_write_zeroes || opcode == nvme_cmd_dsm ||
         opcode == nvme_cmd_flush;
}

std::uint64_t key_at(const std::uint8_t* data, std::size_t offset) {
  std::uint64_t key;
  std::memcpy(&key, data + offset, sizeof key);  // little-endian on the wire and here
  return key;
}
}  // namespace

nvme::Status IoQueue::check_reservation(std::size_t ns_index, const Namespace& ns, std::uint8_t opcode) {
  const std::uint64_t epoch = ns.reservations->epoch();
  if (epoch == 0) return nvme::Status::success();  // never registered to: nothing to check
  ReservationView& view = reservation_by_index_[ns_index];
  if (view.epoch != epoch) view.access = ns.reservations->access(controller_->host().id, view.epoch);
  if ((view.access.read_denied && in_read_group(opcode)) || (view.access.write_denied && in_write_group(opcode)))
    return nvme::Status::generic(NVME_SC_RESERVATION_CONFLICT);
  return nvme::Status::success();
}

void IoQueue::handle_reservation(Context& ctx) {
  fabric::ControllerRequest& req = *ctx.req;
  ctx.stage = Stage::reservation;
  if (req.sqe.opcode == nvme_cmd_resv_report) return run_reservation(ctx);
  if (req.direction != fabric::DataDirection::host_to_controller || req.data_length < data_size(req.sqe.opcode) ||
      !req.data)
    return complete(ctx, nvme::Status::generic(NVME_SC_SGL_INVALID_DATA));
  if (!req.data_ready) return fetch_data(ctx);
  run_reservation(ctx);
}

void IoQueue::run_reservation(Context& ctx) {
  fabric::ControllerRequest& req = *ctx.req;
  NamespaceReservations& resv = *ctx.ns->reservations;
  const HostId& host = controller_->host().id;
  const std::uint32_t cdw10 = req.sqe.cdw10;
  const bool iekey = cdw10 & kIekeyBit;
  const auto* data = reinterpret_cast<const std::uint8_t*>(req.data);
  NamespaceReservations::Result result;
  switch (req.sqe.opcode) {
    case nvme_cmd_resv_report: {
      // A fabrics host identifier is 128 bits: only the extended structure can carry it (NVMe Base spec,
      // Reservation Report; nvmet and SPDK answer the same).
      if (!(req.sqe.cdw11 & kEdsBit)) return complete(ctx, nvme::Status::generic(NVME_SC_HOSTID_FORMAT));
      const std::uint64_t length = (std::uint64_t(cdw10) + 1) * 4;  // NUMD, 0's based dwords
      if (req.direction != fabric::DataDirection::controller_to_host || req.data_length != length || !req.data)
        return complete(ctx, nvme::Status::generic(NVME_SC_SGL_INVALID_DATA));
      resv.report_extended(reinterpret_cast<std::uint8_t*>(req.data), static_cast<std::size_t>(length));
      ctx.bytes = static_cast<std::uint32_t>(length);
      return complete(ctx, nvme::Status::success());
    }
    case nvme_cmd_resv_register:
      result = resv.register_key(host, action_of(cdw10), iekey, static_cast<std::uint8_t>(cdw10 >> 30), key_at(data, 0),
                                 key_at(data, 8));
      break;
    case nvme_cmd_resv_acquire:
      result = resv.acquire(host, action_of(cdw10), iekey, rtype_of(cdw10), key_at(data, 0), key_at(data, 8));
      break;
    case nvme_cmd_resv_release:
      result = resv.release(host, action_of(cdw10), iekey, rtype_of(cdw10), key_at(data, 0));
      break;
  }
  if (!result.notices.empty()) {
    const std::uint32_t nsid = ctx.ns->nsid;
    // Every controller of each host concerned gets the page and the event (registrations are per host).
    for (const auto& c : controller_->subsystem().controllers())
      for (const ReservationNotice& notice : result.notices)
        if (c->host().id == notice.host) c->notify_reservation(notice.event, nsid);
  }
  NVMF_LOG(debug, "controller %u nsid %u: reservation opcode 0x%02x cdw10 0x%08x: %s", controller_->cntlid(),
           ctx.ns->nsid, req.sqe.opcode, cdw10, result.status.to_string().c_str());
  if (result.status.ok() && req.sqe.opcode == nvme_cmd_resv_acquire && action_of(cdw10) == 2)
    return drain_preempted(ctx, result.notices);
  complete(ctx, result.status);
}

void IoQueue::drain_preempted(Context& ctx, const std::vector<ReservationNotice>& notices) {
  // Preempt and Abort: the target cannot recall I/O handed to the backend, so, as nvmet, the command completes
  // once every command the preempted hosts had in flight on the namespace has: after it, none of theirs is left.
  std::vector<std::shared_ptr<Controller>> victims;
  for (const auto& c : controller_->subsystem().controllers())
    for (const ReservationNotice& n : notices)
      if (n.event == ReservationEvent::registration_preempted && c->host().id == n.host) {
        victims.push_back(c);
        break;
      }
  if (victims.empty()) return complete(ctx, nvme::Status::success());
  const auto slot = static_cast<std::uint16_t>(&ctx - contexts_.data());
  const std::uint32_t use = ctx.use;
  auto left = std::make_shared<std::atomic<std::size_t>>(victims.size());
  std::weak_ptr<Controller> owner = controller_;
  fabric::Reactor* reactor = &reactor_;
  const std::uint64_t token = token_;
  for (const auto& victim : victims)
    victim->drain_namespace(ctx.ns->nsid, [left, owner, reactor, token, slot, use] {
      if (left->fetch_sub(1) != 1) return;
      reactor->post([owner, token, slot, use] {
        if (auto c = owner.lock())
          c->with_io_queue(token, [&](IoQueue& q) { q.finish_preempt_abort(slot, use, nvme::Status::success()); });
      });
    });
}

void IoQueue::finish_preempt_abort(std::uint16_t slot, std::uint32_t use, nvme::Status status) {
  Context& ctx = contexts_[slot];
  if (ctx.use != use || !ctx.req) return;  // completed otherwise meanwhile
  complete(ctx, status);
}

void IoQueue::when_drained(std::uint32_t nsid, std::function<void()> done) {
  DrainWaiter waiter;
  for (std::size_t i = 0; i < contexts_.size(); ++i)
    if (contexts_[i].req && contexts_[i].ns && contexts_[i].ns->nsid == nsid)
      waiter.slots.emplace_back(static_cast<std::uint16_t>(i), contexts_[i].use);
  if (waiter.slots.empty()) return done();
  waiter.done = std::move(done);
  drain_waiters_.push_back(std::move(waiter));
}

void IoQueue::note_completion(std::uint16_t slot) {
  for (auto it = drain_waiters_.begin(); it != drain_waiters_.end();) {
    std::erase_if(it->slots, [&](const auto& s) { return s.first == slot && s.second != contexts_[slot].use; });
    if (!it->slots.empty()) {
      ++it;
      continue;
    }
    auto done = std::move(it->done);
    it = drain_waiters_.erase(it);
    done();  // only counts down and posts: it cannot reenter this queue
  }
}

}  // namespace nvmf::target
