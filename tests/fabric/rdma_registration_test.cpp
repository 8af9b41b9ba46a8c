// Host-side registration cache and the registered buffer pool, over a fake registrar that records calls.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "fabric/rdma/registered_pool.hpp"
#include "fabric/rdma/registration_cache.hpp"

namespace nvmf::fabric::rdma {
namespace {

class FakeRegistrar : public MemoryRegistrar {
 public:
  bool register_region(std::uintptr_t start, std::size_t length, MemoryRegion* out, std::string* error) override {
    if (fail_next) {
      fail_next = false;
      if (error) *error = "fake failure";
      return false;
    }
    ++next_key;
    *out = MemoryRegion{start, length, next_key, next_key + 1000, reinterpret_cast<void*>(std::uintptr_t(next_key))};
    live.push_back(*out);
    ++registrations;
    return true;
  }
  void deregister_region(const MemoryRegion& region) override {
    auto it = std::find_if(live.begin(), live.end(), [&](const MemoryRegion& r) { return r.lkey == region.lkey; });
    ASSERT_NE(it, live.end()) << "deregistering a region that is not registered";
    live.erase(it);
  }
  bool is_live(std::uint32_t lkey) const {
    return std::any_of(live.begin(), live.end(), [&](const MemoryRegion& r) { return r.lkey == lkey; });
  }

  std::vector<MemoryRegion> live;
  std::uint32_t next_key = 0;
  int registrations = 0;
  bool fail_next = false;
};

// Addresses only: the fake never touches memory.
const void* at(std::uintptr_t a) { return reinterpret_cast<const void*>(a); }

TEST(RdmaRegistrationCache, MissRegistersPageAlignedThenHits) {
  FakeRegistrar reg;
  {
    RegistrationCache cache(reg);
    auto* e = cache.acquire(at(0x10100), 0x200, nullptr);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->region.start, 0x10000u);
    EXPECT_EQ(e->region.length, 0x1000u);
    EXPECT_EQ(cache.misses(), 1u);
    cache.release(e);

    auto* again = cache.acquire(at(0x10800), 0x800, nullptr);  // inside the same page
    EXPECT_EQ(again, e);
    EXPECT_EQ(cache.hits(), 1u);
    EXPECT_EQ(reg.registrations, 1);
    cache.release(again);
    EXPECT_EQ(reg.live.size(), 1u);  // cached while unused
  }
  EXPECT_TRUE(reg.live.empty());  // the cache deregisters everything at the end
}

TEST(RdmaRegistrationCache, DisjointBuffersGetTheirOwnRegions) {
  FakeRegistrar reg;
  RegistrationCache cache(reg);
  auto* a = cache.acquire(at(0x100000), 0x2000, nullptr);
  auto* b = cache.acquire(at(0x200000), 0x2000, nullptr);
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->region.lkey, b->region.lkey);
  EXPECT_EQ(cache.regions(), 2u);
  cache.release(a);
  cache.release(b);
}

TEST(RdmaRegistrationCache, OverlapRegistersTheUnionAndRetiresTheOld) {
  FakeRegistrar reg;
  RegistrationCache cache(reg);
  auto* a = cache.acquire(at(0x100000), 0x2000, nullptr);  // [0x100000, 0x102000)
  auto* b = cache.acquire(at(0x104000), 0x1000, nullptr);  // [0x104000, 0x105000)
  ASSERT_TRUE(a && b);
  const auto a_key = a->region.lkey, b_key = b->region.lkey;
  cache.release(b);  // b unused, a still in flight

  auto* u = cache.acquire(at(0x101000), 0x3800, nullptr);  // bridges a and b
  ASSERT_NE(u, nullptr);
  EXPECT_EQ(u->region.start, 0x100000u);
  EXPECT_EQ(u->region.length, 0x5000u);
  EXPECT_EQ(cache.regions(), 1u);
  EXPECT_FALSE(reg.is_live(b_key));  // unused: deregistered at once
  EXPECT_TRUE(reg.is_live(a_key));   // in flight: kept until released
  EXPECT_TRUE(a->retired);
  cache.release(a);
  EXPECT_FALSE(reg.is_live(a_key));

  // Later requests anywhere in the union hit it.
  auto* hit = cache.acquire(at(0x104800), 0x100, nullptr);
  EXPECT_EQ(hit, u);
  cache.release(hit);
  cache.release(u);
}

TEST(RdmaRegistrationCache, AdjacentRegionsMerge) {
  FakeRegistrar reg;
  RegistrationCache cache(reg);
  auto* a = cache.acquire(at(0x100000), 0x1000, nullptr);
  cache.release(a);
  // Spans the end of a's page and the next one: a miss that absorbs a.
  auto* b = cache.acquire(at(0x100800), 0x1000, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->region.start, 0x100000u);
  EXPECT_EQ(b->region.length, 0x2000u);
  EXPECT_EQ(cache.regions(), 1u);
  EXPECT_EQ(reg.live.size(), 1u);
  cache.release(b);
}

TEST(RdmaRegistrationCache, ForgetDropsRegionsAndFailureLeavesCacheIntact) {
  FakeRegistrar reg;
  RegistrationCache cache(reg);
  auto* a = cache.acquire(at(0x100000), 0x1000, nullptr);
  cache.release(a);
  cache.forget(at(0x100100), 16);
  EXPECT_EQ(cache.regions(), 0u);
  EXPECT_TRUE(reg.live.empty());

  auto* b = cache.acquire(at(0x300000), 0x1000, nullptr);
  reg.fail_next = true;
  std::string error;
  EXPECT_EQ(cache.acquire(at(0x300800), 0x1000, &error), nullptr);  // would merge with b, but fails
  EXPECT_EQ(error, "fake failure");
  EXPECT_EQ(cache.regions(), 1u);
  EXPECT_TRUE(reg.is_live(b->region.lkey));
  cache.release(b);
}

TEST(RdmaRegisteredPool, GrowsByChunksUpToTheCap) {
  FakeRegistrar reg;
  {
    RegisteredPool pool(reg, 5000, 2, 3);
    EXPECT_EQ(pool.buffer_size(), 8192u);
    auto a = pool.get();
    auto b = pool.get();
    auto c = pool.get();
    ASSERT_TRUE(a && b && c);
    EXPECT_EQ(reg.registrations, 2);  // chunks of 2, then of 1
    EXPECT_EQ(a.lkey, b.lkey);
    EXPECT_NE(b.lkey, c.lkey);
    EXPECT_FALSE(pool.get());  // cap reached
    pool.put(b);
    auto d = pool.get();
    EXPECT_EQ(d.data, b.data);
    EXPECT_EQ(reg.registrations, 2);  // recycled, no new registration
    pool.put(a);
    pool.put(c);
    pool.put(d);
  }
  EXPECT_TRUE(reg.live.empty());
}

TEST(RdmaRegisteredPool, RegistrationFailureIsReported) {
  FakeRegistrar reg;
  RegisteredPool pool(reg, 4096, 4, 8);
  reg.fail_next = true;
  EXPECT_FALSE(pool.get());
  EXPECT_EQ(pool.last_error(), "fake failure");
  EXPECT_TRUE(pool.get());  // the next attempt registers
}

}  // namespace
}  // namespace nvmf::fabric::rdma
