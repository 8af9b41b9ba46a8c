// An operation in flight on a reactor's io_uring. The SQE's user_data points at the IoOp; when its CQE arrives
// the reactor calls the handler. Embed an IoOp in whatever owns the operation (a queue, a request), so that
// submitting I/O allocates nothing.
#pragma once
#include <cstdint>

namespace nvmf::fabric {

struct IoOp {
  using Handler = void (*)(IoOp& op, std::int32_t res, std::uint32_t cqe_flags);
  Handler handler = nullptr;
};

/// Recover the object that embeds an IoOp member: `auto& q = owner_of(&Queue::recv_op_, op);`
template <typename Owner>
Owner& owner_of(IoOp Owner::*member, IoOp& op) {
  auto offset = reinterpret_cast<std::uintptr_t>(&(static_cast<Owner*>(nullptr)->*member));
  return *reinterpret_cast<Owner*>(reinterpret_cast<std::uintptr_t>(&op) - offset);
}

}  // namespace nvmf::fabric
