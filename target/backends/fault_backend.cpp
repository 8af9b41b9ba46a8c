#include "target/backends/fault_backend.hpp"

#include <chrono>

#include "fabric/reactor.hpp"

namespace nvmf::target {

namespace {
// SplitMix64: a fixed pseudo-random sequence, so p:F faults repeat from run to run for the same command order.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
}  // namespace

FaultBackend::FaultBackend(std::shared_ptr<Backend> inner, FaultSpec spec, std::uint8_t lba_shift)
    : inner_(std::move(inner)), spec_(std::move(spec)), lba_shift_(lba_shift) {}

std::string FaultBackend::describe() const { return inner_->describe() + " with faults " + spec_.text; }

bool FaultBackend::matches(const FaultSelector& sel, Counter& counter, std::uint64_t offset, std::uint64_t length,
                           bool has_range) {
  switch (sel.kind) {
    case FaultSelector::Kind::all:
      return true;
    case FaultSelector::Kind::lba: {
      if (!has_range || length == 0) return false;
      const std::uint64_t first = offset >> lba_shift_, last = (offset + length - 1) >> lba_shift_;
      return first <= sel.last_lba && last >= sel.first_lba;
    }
    case FaultSelector::Kind::every:
      return (counter.value.fetch_add(1, std::memory_order_relaxed) + 1) % sel.every == 0;
    case FaultSelector::Kind::probability:
      return sel.always || mix(draws_.fetch_add(1, std::memory_order_relaxed)) < sel.threshold;
  }
  return false;
}

int FaultBackend::error_for(Op op, std::uint64_t offset, std::uint64_t length) {
  if (op == Op::read)
    return spec_.read_error && matches(*spec_.read_error, read_error_count_, offset, length, true) ? -EIO : 0;
  if (op != Op::write && op != Op::write_zeroes) return 0;
  // Both selectors count every write, so each keeps its own rhythm when both are configured.
  const bool nospace = spec_.write_nospace && matches(*spec_.write_nospace, write_nospace_count_, offset, length, true);
  const bool fault = spec_.write_error && matches(*spec_.write_error, write_error_count_, offset, length, true);
  return nospace ? -ENOSPC : fault ? -EIO : 0;
}

bool FaultBackend::delayed(Op op, std::uint64_t offset, std::uint64_t length) {
  return spec_.delay && matches(*spec_.delay, delay_count_, offset, length, op != Op::flush);
}

void FaultBackend::execute(fabric::Reactor& reactor, BackendIo& io, Op op, int error, std::uint64_t offset,
                           std::byte* buffer, std::uint64_t length, bool fua) {
  if (error) return io.done(io, error);
  switch (op) {
    case Op::read:
      return inner_->read(reactor, io, offset, buffer, static_cast<std::uint32_t>(length));
    case Op::write:
      return inner_->write(reactor, io, offset, buffer, static_cast<std::uint32_t>(length), fua);
    case Op::flush:
      return inner_->flush(reactor, io);
    case Op::write_zeroes:
      return inner_->write_zeroes(reactor, io, offset, length);
    case Op::deallocate:
      return inner_->deallocate(reactor, io, offset, length);
  }
}

void FaultBackend::submit(fabric::Reactor& reactor, BackendIo& io, Op op, std::uint64_t offset, std::byte* buffer,
                          std::uint64_t length, bool fua) {
  const int error = error_for(op, offset, length);
  const bool delay = delayed(op, offset, length);
  if (error || delay) injected_.fetch_add(1, std::memory_order_relaxed);
  if (!delay) return execute(reactor, io, op, error, offset, buffer, length, fua);
  // The command's arguments wait in its own BackendIo (ours until it reaches the wrapped backend); the timer
  // captures one pointer, which std::function holds without allocating.
  io.backend = this;
  io.reactor = &reactor;
  io.offset = offset;
  io.remaining = length;
  io.buffer = buffer;
  io.fua = fua;
  io.kind = static_cast<std::uint8_t>(static_cast<unsigned>(op) | (error == -ENOSPC ? 0x20u : error ? 0x10u : 0u));
  reactor.add_timer_us(std::chrono::microseconds(spec_.delay_us), [&io] { on_delay_over(io); });
}

void FaultBackend::on_delay_over(BackendIo& io) {
  auto& self = static_cast<FaultBackend&>(*io.backend);
  const Op op = static_cast<Op>(io.kind & 0x0F);
  const int error = (io.kind & 0x20) ? -ENOSPC : (io.kind & 0x10) ? -EIO : 0;
  self.execute(*io.reactor, io, op, error, io.offset, io.buffer, io.remaining, io.fua);
}

void FaultBackend::read(fabric::Reactor& reactor, BackendIo& io, std::uint64_t offset, std::byte* buffer,
                        std::uint32_t length) {
  submit(reactor, io, Op::read, offset, buffer, length, false);
}

void FaultBackend::write(fabric::Reactor& reactor, BackendIo& io, std::uint64_t offset, const std::byte* buffer,
                         std::uint32_t length, bool fua) {
  // The wrapped backend gets the pointer back as const; the cast only lets it wait in the BackendIo.
  submit(reactor, io, Op::write, offset, const_cast<std::byte*>(buffer), length, fua);
}

void FaultBackend::flush(fabric::Reactor& reactor, BackendIo& io) { submit(reactor, io, Op::flush, 0, nullptr, 0, false); }

void FaultBackend::write_zeroes(fabric::Reactor& reactor, BackendIo& io, std::uint64_t offset, std::uint64_t length) {
  submit(reactor, io, Op::write_zeroes, offset, nullptr, length, false);
}

void FaultBackend::deallocate(fabric::Reactor& reactor, BackendIo& io, std::uint64_t offset, std::uint64_t length) {
  submit(reactor, io, Op::deallocate, offset, nullptr, length, false);
}

}  // namespace nvmf::target
