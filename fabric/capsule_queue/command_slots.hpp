// The controller side of an NVMe/RDMA-format capsule queue that does not depend on how bytes move: per-command
// slots, the free list, capsules waiting for a slot, the SQ head, and what a received capsule asks for (keyed SGL,
// in-capsule data or none). The rdma (verbs) and ofi (libfabric) controller queues keep their own posting and
// completion calls and share this. Nothing here allocates after init(): it sits on the data path.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fabric/rdma/capsule.hpp"
#include "fabric/rdma/index_ring.hpp"
#include "fabric/rdma/registered_pool.hpp"
#include "fabric/transport.hpp"

namespace nvmf::fabric::capsule_queue {

enum class SlotPhase : std::uint8_t { free, handler, reading, responding };

/// One command in flight. Transports that track more per command derive from it.
struct CommandSlot {
  ControllerRequest req;
  SlotPhase phase = SlotPhase::free;
  bool handler_owns = false;       ///< on_command delivered, complete() not yet called
  bool holds_recv = false;         ///< the receive buffer recv_index is still in use (in-capsule data)
  std::uint32_t recv_index = 0;
  rdma::RegisteredPool::Buffer buffer;  ///< For keyed transfers
  rdma::CapsuleData data;
};

/// Who logs: "<transport>: <peer> qid <qid>: ...".
struct QueueLabel {
  const char* transport;
  const std::string& peer;
  std::uint16_t qid;
};

/// What the transport does next with a capsule start_command() accepted or refused.
enum class CommandStart : std::uint8_t {
  respond,               ///< refused: req's status says why; send the response
  deliver,               ///< in-capsule data sits in the receive buffer: hand the request to the handler
  release_then_deliver,  ///< the receive buffer is free to repost (SQE copied, no in-capsule data); then deliver
};

/// Fills slot.req from the capsule received into `sqe` (`bytes` long, in-capsule data at `recv_data`), parses its
/// SGL and, for a keyed transfer, takes a data buffer from `pool`. Marks the slot as held by the handler unless
/// the answer is `respond`.
CommandStart start_command(CommandSlot& slot, const std::byte* sqe, std::byte* recv_data, std::uint32_t recv_index,
                           std::uint32_t bytes, std::uint32_t in_capsule_limit, std::uint32_t max_io_size,
                           rdma::RegisteredPool& pool, const QueueLabel& label);

/// How many bytes of controller-to-host data go to the host's keyed buffer before the response (0: none).
std::uint32_t keyed_write_length(const CommandSlot& slot);

/// A failed or abandoned RMA read of host data: back to the handler with Data Transfer Error.
void fail_data_transfer(CommandSlot& slot);
/// The RMA read of host data ended: the data is ready, or the command fails with Data Transfer Error. The slot
/// goes back to the handler either way (the transport then calls on_data_fetched).
void read_done(CommandSlot& slot, bool ok);

/// The slot table of one queue. Slot is CommandSlot or a transport's type derived from it.
template <class Slot>
class CommandSlots {
 public:
  void init(std::uint16_t depth, ControllerQueue* queue) {
    slots_ = std::vector<Slot>(depth);
    free_.clear();
    free_.reserve(depth);
    for (std::uint16_t i = depth; i > 0; --i) {
      slots_[i - 1].req.slot = static_cast<std::uint16_t>(i - 1);
      slots_[i - 1].req.queue = queue;
      free_.push_back(static_cast<std::uint16_t>(i - 1));
    }
    waiting_capsules_.reset(depth);
    recv_bytes_.assign(depth, 0);
    active_ = 0;
    sq_head_ = 0;
  }

  Slot& operator[](std::size_t index) { return slots_[index]; }
  std::vector<Slot>& all() { return slots_; }
  std::uint32_t active() const { return active_; }

  /// A capsule of `bytes` arrived in receive buffer `recv_index`: the free slot that takes it, or nullptr when
  /// every slot is busy (the host saw a response whose send has not completed here yet); the capsule then waits
  /// for next_waiting().
  Slot* admit(std::uint32_t recv_index, std::uint32_t bytes) {
    recv_bytes_[recv_index] = bytes;
    if (free_.empty()) {
      waiting_capsules_.push(recv_index);
      return nullptr;
    }
    Slot& slot = slots_[free_.back()];
    free_.pop_back();
    ++active_;
    return &slot;
  }

  /// A capsule that waited for a slot, once one is free: true with its receive index and size.
  bool next_waiting(std::uint32_t* recv_index, std::uint32_t* bytes) {
    if (waiting_capsules_.empty() || free_.empty()) return false;
    *recv_index = waiting_capsules_.pop();
    *bytes = recv_bytes_[*recv_index];
    return true;
  }
  bool has_waiting() const { return !waiting_capsules_.empty(); }

  /// Counts the SQ entry consumed; the value the next responses carry in SQHD (depth from Connect).
  void advance_sq_head(std::uint16_t depth) {
    sq_head_ = static_cast<std::uint16_t>((sq_head_ + 1) % (depth ? depth : 1));
  }

  /// The response capsule for the slot's command: the handler's CQE with CID, SQID and SQHD filled in.
  void fill_response(const Slot& slot, std::uint16_t qid, bool sq_flow_control_disabled, nvme::Cqe* cqe) const {
    *cqe = slot.req.cqe;
    cqe->cid = slot.req.sqe.cid;
    cqe->sqid = qid;
    cqe->sqhd = sq_flow_control_disabled ? 0xFFFF : sq_head_;
  }

  /// Frees the slot and its data buffer unless it is free already or the handler still holds it. True when freed,
  /// so the transport resets what it adds to the slot.
  bool recycle(Slot& slot, rdma::RegisteredPool& pool) {
    if (slot.phase == SlotPhase::free || slot.handler_owns) return false;
    slot.holds_recv = false;
    pool.put(slot.buffer);
    slot.buffer = {};
    slot.phase = SlotPhase::free;
    free_.push_back(slot.req.slot);
    --active_;
    return true;
  }

 private:
  std::vector<Slot> slots_;
  std::vector<std::uint16_t> free_;
  rdma::IndexRing waiting_capsules_;    ///< Receive indices of capsules waiting for a free slot
  std::vector<std::uint32_t> recv_bytes_;  ///< Bytes received in each receive buffer
  std::uint32_t active_ = 0;            ///< Slots not free
  std::uint16_t sq_head_ = 0;
};

}  // namespace nvmf::fabric::capsule_queue
