#include "target/backends/null_backend.hpp"

#include <cstring>

namespace nvmf::target {

std::string NullBackend::describe() const { return "null:" + std::to_string(size_) + " bytes"; }

void NullBackend::read(fabric::Reactor&, BackendIo& io, std::uint64_t, std::byte* buffer, std::uint32_t length) {
  std::memset(buffer, 0, length);
  io.done(io, 0);
}

}  // namespace nvmf::target
