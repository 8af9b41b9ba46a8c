#include "fabric/rdma/receive_layout.hpp"

namespace nvmf::fabric::rdma {

namespace {
constexpr std::size_t round_up(std::size_t n, std::size_t to) { return (n + to - 1) / to * to; }
}  // namespace

ReceiveLayout::ReceiveLayout(std::uint32_t depth, std::uint32_t in_capsule_limit)
    : in_capsule_limit_(in_capsule_limit),
      data_stride_(round_up(in_capsule_limit, kDataAlignment)),
      sqe_base_(std::size_t(depth) * data_stride_),
      total_bytes_(round_up(sqe_base_ + std::size_t(depth) * kSqeBytes, kDataAlignment)) {}

std::uint32_t ReceiveLayout::pieces(std::uint32_t index, Piece (&out)[kMaxSges]) const {
  out[0] = Piece{sqe_offset(index), kSqeBytes};
  if (in_capsule_limit_ == 0) return 1;
  out[1] = Piece{data_offset(index), in_capsule_limit_};
  return 2;
}

std::uint32_t ReceiveLayout::fill_sges(std::byte* base, std::uint32_t lkey, std::uint32_t index,
                                       ibv_sge (&sges)[kMaxSges]) const {
  Piece p[kMaxSges];
  const std::uint32_t count = pieces(index, p);
  for (std::uint32_t i = 0; i < count; ++i)
    sges[i] = ibv_sge{reinterpret_cast<std::uint64_t>(base + p[i].offset), p[i].length, lkey};
  return count;
}

}  // namespace nvmf::fabric::rdma
