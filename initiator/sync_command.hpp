// Run one command to completion on a HostQueue by driving the queue's reactor from the calling thread. The
// control path (Connect, properties, Identify, log pages) and the synchronous block helpers use it.
#pragma once
#include <chrono>
#include <cstdint>

#include "fabric/host_transport.hpp"
#include "nvme/cqe.hpp"
#include "nvme/sqe.hpp"
#include "nvme/status.hpp"

namespace nvmf::initiator {

/// Submit `req` (its on_complete and context are taken over) and drive the reactor until it completes.
/// When `timeout` passes first the queue is closed, as the Linux host tears the association down when a
/// command times out: the command's fate is unknown, so the queue cannot be trusted with the next one.
/// A dead queue gives kHostPathError; a timeout kAbortedByHost.
nvme::Status execute_sync(fabric::HostQueue& queue, fabric::HostRequest& req, std::chrono::milliseconds timeout);

/// Convenience: one contiguous buffer (or none). The CQE lands in *cqe when given.
nvme::Status execute_sync(fabric::HostQueue& queue, const nvme::Sqe& sqe, void* data, std::uint32_t length,
                          fabric::DataDirection direction, std::chrono::milliseconds timeout,
                          nvme::Cqe* cqe = nullptr);

}  // namespace nvmf::initiator
