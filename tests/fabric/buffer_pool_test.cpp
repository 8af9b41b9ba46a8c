#include "fabric/buffer_pool.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <set>

using nvmf::fabric::BufferPool;

TEST(BufferPool, RecyclesWithoutGrowing) {
  BufferPool pool(5000, 4);
  EXPECT_EQ(pool.buffer_size(), 8192u);  // rounded up to whole pages for O_DIRECT
  std::set<std::byte*> seen;
  for (int i = 0; i < 4; ++i) {
    auto* b = pool.get();
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b) % 4096, 0u);
    seen.insert(b);
  }
  EXPECT_EQ(seen.size(), 4u);
  EXPECT_EQ(pool.allocated(), 4u);
  for (auto* b : seen) pool.put(b);
  for (int round = 0; round < 100; ++round) pool.put(pool.get());
  EXPECT_EQ(pool.allocated(), 4u);  // steady state: no new memory
  std::byte* extra[5];
  for (auto*& b : extra) b = pool.get();
  EXPECT_EQ(pool.allocated(), 8u);  // the fifth outstanding buffer grew one chunk
  for (auto* b : extra) pool.put(b);
}
