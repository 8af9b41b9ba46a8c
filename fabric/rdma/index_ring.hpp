// A FIFO of small indices with a capacity fixed at creation: waiting lists on the data path without allocation.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace nvmf::fabric::rdma {

class IndexRing {
 public:
  explicit IndexRing(std::size_t capacity = 0) : items_(capacity) {}
  void reset(std::size_t capacity) {
    items_.assign(capacity, 0);
    head_ = size_ = 0;
  }
  /// False when full (a caller bug: capacities are sized so that it cannot happen).
  bool push(std::uint32_t v) {
    if (size_ == items_.size()) return false;
    items_[(head_ + size_) % items_.size()] = v;
    ++size_;
    return true;
  }
  std::uint32_t pop() {
    std::uint32_t v = items_[head_];
    head_ = (head_ + 1) % items_.size();
    --size_;
    return v;
  }
  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }

 private:
  std::vector<std::uint32_t> items_;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

}  // namespace nvmf::fabric::rdma
