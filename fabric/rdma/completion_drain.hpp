// Interrupt-driven completion handling shared by both queue roles: take the completion channel's events, re-arm
// the CQ notification, then poll the CQ dry. Re-arming before polling closes the race where a completion lands
// between the last poll and the re-arm (the usual verbs pattern; the kernel's ib_process_cq_direct does the same).
#pragma once
#include <infiniband/verbs.h>

#include <cstdint>

namespace nvmf::fabric::rdma {

/// Work request ids: the kind in the high 32 bits, a slot or buffer index in the low ones.
enum class WrKind : std::uint32_t { recv = 1, send, read, write, bind, local_invalidate, drain_send, drain_recv };
inline std::uint64_t make_wr_id(WrKind kind, std::uint32_t index) {
  return std::uint64_t(static_cast<std::uint32_t>(kind)) << 32 | index;
}
inline WrKind wr_kind(std::uint64_t wr_id) { return static_cast<WrKind>(wr_id >> 32); }
inline std::uint32_t wr_index(std::uint64_t wr_id) { return static_cast<std::uint32_t>(wr_id); }

/// Consume ready events of `channel` (non-blocking fd), re-arm `cq`, and hand every completion to `on_wc`.
/// `unacked` counts events not yet acknowledged (ibv_destroy_cq needs them all acked; acking in batches is
/// cheaper). Returns false when re-arming failed (the device is gone).
template <typename OnCompletion>
bool drain_completions(ibv_comp_channel* channel, ibv_cq* cq, unsigned& unacked, OnCompletion&& on_wc) {
  ibv_cq* event_cq = nullptr;
  void* context = nullptr;
  while (ibv_get_cq_event(channel, &event_cq, &context) == 0) ++unacked;
  if (unacked >= 64) {
    ibv_ack_cq_events(cq, unacked);
    unacked = 0;
  }
  if (ibv_req_notify_cq(cq, 0) != 0) return false;
  ibv_wc batch[32];
  for (;;) {
    int n = ibv_poll_cq(cq, 32, batch);
    if (n <= 0) break;
    for (int i = 0; i < n; ++i) on_wc(batch[i]);
  }
  return true;
}

}  // namespace nvmf::fabric::rdma
