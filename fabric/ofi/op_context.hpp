// The context of one posted libfabric operation. It starts with an fi_context2, which providers that ask for
// FI_CONTEXT or FI_CONTEXT2 mode use as their own scratch space, and names what completed: the kind of operation
// and the receive buffer or request slot. Every operation has one, embedded in its owner: posting allocates nothing.
#pragma once
#include <rdma/fabric.h>

#include <cstddef>
#include <cstdint>

namespace nvmf::fabric::ofi {

enum class OpKind : std::uint8_t { recv, send, read, write };

struct OpContext {
  fi_context2 provider{};  ///< First member: the context pointer is also &provider
  OpKind kind = OpKind::recv;
  std::uint32_t index = 0;
};

inline OpContext* op_of(void* context) { return static_cast<OpContext*>(context); }

/// Completions asked for per fi_cq_read.
inline constexpr std::size_t kCqBatch = 32;

}  // namespace nvmf::fabric::ofi
