// The controller-side capsule queue logic shared by the rdma and ofi transports (fabric/capsule_queue): what a
// received capsule turns into, slot bookkeeping with capsules waiting for a slot, response fields and the
// controller-to-host write length. A fake registrar stands in for verbs and libfabric.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "fabric/capsule_queue/command_slots.hpp"
#include "fabric/capsule_queue/host_slots.hpp"
#include "fabric/capsule_queue/read_credits.hpp"
#include "fabric/rdma/memory_registrar.hpp"
#include "fabric/reactor.hpp"

namespace nvmf::fabric::capsule_queue {
namespace {

using nvme::Status;

constexpr std::uint32_t kIcd = 8192;
constexpr std::uint32_t kMdts = 128 * 1024;

class CountingRegistrar : public rdma::MemoryRegistrar {
 public:
  bool register_region(std::uintptr_t start, std::size_t length, rdma::MemoryRegion* out, std::string*) override {
    ++key;
    *out = rdma::MemoryRegion{start, length, key, key, nullptr};
    return true;
  }
  void deregister_region(const rdma::MemoryRegion&) override {}
  std::uint32_t key = 0;
};

/// A receive buffer as the transports lay it out: the SQE, then in-capsule data.
struct Capsule {
  nvme::Sqe sqe{};
  std::vector<std::byte> data = std::vector<std::byte>(kIcd);
  std::uint32_t bytes = sizeof(nvme::Sqe);
};

Capsule keyed(std::uint8_t opcode, std::uint16_t cid, std::uint32_t length) {
  Capsule c;
  c.sqe.opcode = opcode;
  c.sqe.cid = cid;
  c.sqe.flags = nvme::kPsdtSgl;
  rdma::set_keyed_sgl(c.sqe, 0x10000, length, 0x55, false);
  return c;
}

class CapsuleQueueTest : public ::testing::Test {
 protected:
  CommandStart start(CommandSlot& slot, Capsule& c, std::uint32_t recv_index = 0) {
    return start_command(slot, reinterpret_cast<const std::byte*>(&c.sqe), c.data.data(), recv_index, c.bytes, kIcd,
                         kMdts, pool, {"test", peer, 1});
  }
  CountingRegistrar registrar;
  rdma::RegisteredPool pool{registrar, kMdts, 2, 2};
  std::string peer = "127.0.0.1";
};

TEST_F(CapsuleQueueTest, KeyedReadTakesADataBufferAndFreesTheReceive) {
  CommandSlot slot;
  auto c = keyed(nvme_cmd_read, 7, 4096);
  ASSERT_EQ(start(slot, c, 3), CommandStart::release_then_deliver);
  EXPECT_TRUE(slot.handler_owns);
  EXPECT_EQ(slot.phase, SlotPhase::handler);
  EXPECT_EQ(slot.recv_index, 3u);
  EXPECT_EQ(slot.req.sqe.cid, 7);
  EXPECT_EQ(slot.req.direction, DataDirection::controller_to_host);
  EXPECT_EQ(slot.req.data_length, 4096u);
  ASSERT_TRUE(slot.buffer);
  EXPECT_EQ(slot.req.data, slot.buffer.data);
  EXPECT_FALSE(slot.req.data_ready);
  // The handler may return fewer bytes than the SGL names; the write never exceeds either.
  EXPECT_EQ(keyed_write_length(slot), 4096u);
  slot.req.data_length = 512;
  EXPECT_EQ(keyed_write_length(slot), 512u);
  slot.req.set_status(Status::generic(NVME_SC_INTERNAL));
  EXPECT_EQ(keyed_write_length(slot), 0u) << "no data goes to the host with a failed command";
}

TEST_F(CapsuleQueueTest, KeyedWriteNeedsAReadNotAWrite) {
  CommandSlot slot;
  auto c = keyed(nvme_cmd_write, 1, 8192);
  ASSERT_EQ(start(slot, c), CommandStart::release_then_deliver);
  EXPECT_EQ(slot.req.direction, DataDirection::host_to_controller);
  EXPECT_FALSE(slot.req.data_ready);
  EXPECT_EQ(keyed_write_length(slot), 0u);
  slot.phase = SlotPhase::reading;
  read_done(slot, true);
  EXPECT_TRUE(slot.req.data_ready);
  EXPECT_EQ(slot.phase, SlotPhase::handler);
  EXPECT_TRUE(slot.req.status().ok());
  slot.phase = SlotPhase::reading;
  read_done(slot, false);
  EXPECT_EQ(slot.phase, SlotPhase::handler);
  EXPECT_EQ(slot.req.status(), Status::generic(NVME_SC_DATA_XFER_ERROR));
}

TEST_F(CapsuleQueueTest, InCapsuleDataStaysInTheReceiveBuffer) {
  CommandSlot slot;
  Capsule c;
  c.sqe.opcode = nvme_cmd_write;
  c.sqe.flags = nvme::kPsdtSgl;
  rdma::set_in_capsule_sgl(c.sqe, 512);
  c.bytes += 512;
  ASSERT_EQ(start(slot, c), CommandStart::deliver);
  EXPECT_TRUE(slot.holds_recv);
  EXPECT_EQ(slot.req.data, c.data.data());
  EXPECT_TRUE(slot.req.data_ready);
  EXPECT_FALSE(slot.buffer) << "in-capsule data needs no pool buffer";
}

TEST_F(CapsuleQueueTest, MalformedSglIsAnsweredNotDelivered) {
  CommandSlot slot;
  Capsule c;
  c.sqe.opcode = nvme_cmd_write;
  c.sqe.flags = nvme::kPsdtSgl;
  rdma::set_in_capsule_sgl(c.sqe, 4096);  // claims 4 KiB, the capsule carries none
  ASSERT_EQ(start(slot, c), CommandStart::respond);
  EXPECT_FALSE(slot.handler_owns);
  EXPECT_FALSE(slot.req.status().ok());
  EXPECT_TRUE(slot.holds_recv) << "the transport's response path reposts the receive";
}

TEST_F(CapsuleQueueTest, NoDataBufferLeftIsInternalError) {
  CommandSlot a, b, c;
  auto ca = keyed(nvme_cmd_read, 1, 4096), cb = keyed(nvme_cmd_read, 2, 4096), cc = keyed(nvme_cmd_read, 3, 4096);
  ASSERT_EQ(start(a, ca), CommandStart::release_then_deliver);
  ASSERT_EQ(start(b, cb), CommandStart::release_then_deliver);
  ASSERT_EQ(start(c, cc), CommandStart::respond);  // the pool holds two buffers
  EXPECT_EQ(c.req.status(), Status::make(NVME_SCT_GENERIC, NVME_SC_INTERNAL));
  EXPECT_FALSE(c.handler_owns);
}

TEST_F(CapsuleQueueTest, CapsulesWaitForAFreeSlotInArrivalOrder) {
  CommandSlots<CommandSlot> slots;
  slots.init(2, nullptr);
  CommandSlot* first = slots.admit(0, 64);
  CommandSlot* second = slots.admit(1, 64);
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  EXPECT_NE(first, second);
  EXPECT_EQ(slots.active(), 2u);
  // Both receives were reposted once their SQEs were copied; new capsules land in them while the slots are busy.
  EXPECT_EQ(slots.admit(1, 64 + 512), nullptr);
  EXPECT_EQ(slots.admit(0, 64), nullptr);
  std::uint32_t recv_index = 0, bytes = 0;
  EXPECT_FALSE(slots.next_waiting(&recv_index, &bytes)) << "no slot is free yet";

  auto c = keyed(nvme_cmd_read, 9, 4096);
  ASSERT_EQ(start(*first, c), CommandStart::release_then_deliver);
  EXPECT_FALSE(slots.recycle(*first, pool)) << "the handler still holds it";
  first->handler_owns = false;
  ASSERT_TRUE(slots.recycle(*first, pool));
  EXPECT_FALSE(slots.recycle(*first, pool)) << "freed once";
  EXPECT_FALSE(first->buffer);
  EXPECT_EQ(slots.active(), 1u);

  ASSERT_TRUE(slots.next_waiting(&recv_index, &bytes));
  EXPECT_EQ(recv_index, 1u);
  EXPECT_EQ(bytes, 64u + 512u);
  EXPECT_EQ(slots.admit(recv_index, bytes), first);
  EXPECT_TRUE(slots.has_waiting());
}

TEST_F(CapsuleQueueTest, RecycleReturnsTheDataBuffer) {
  CommandSlots<CommandSlot> slots;
  slots.init(4, nullptr);
  for (int round = 0; round < 5; ++round) {  // the pool holds two: a leak would run it dry
    CommandSlot* slot = slots.admit(0, 64);
    ASSERT_NE(slot, nullptr);
    auto c = keyed(nvme_cmd_read, 1, 4096);
    ASSERT_EQ(start(*slot, c), CommandStart::release_then_deliver) << round;
    slot->handler_owns = false;
    ASSERT_TRUE(slots.recycle(*slot, pool));
  }
}

TEST_F(CapsuleQueueTest, ResponseCarriesCidQidAndTheSqHead) {
  CommandSlots<CommandSlot> slots;
  slots.init(4, nullptr);
  CommandSlot& slot = *slots.admit(0, 64);
  EXPECT_EQ(slot.req.slot, 0);
  slot.req.sqe.cid = 0x1234;
  slot.req.cqe.dw0 = 0xAABB;
  nvme::Cqe cqe{};
  slots.advance_sq_head(3);
  slots.fill_response(slot, 5, false, &cqe);
  EXPECT_EQ(cqe.cid, 0x1234);
  EXPECT_EQ(cqe.sqid, 5);
  EXPECT_EQ(cqe.sqhd, 1);
  EXPECT_EQ(cqe.dw0, 0xAABBu);
  slots.advance_sq_head(3);
  slots.advance_sq_head(3);
  slots.fill_response(slot, 5, false, &cqe);
  EXPECT_EQ(cqe.sqhd, 0) << "the head wraps at the queue's depth";
  slots.fill_response(slot, 5, true, &cqe);
  EXPECT_EQ(cqe.sqhd, 0xFFFF) << "SQ flow control disabled";
}

TEST(CapsuleReadCredits, ReadsBeyondTheLimitWaitInOrder) {
  ReadCredits reads;
  reads.reset(8, 2);
  EXPECT_TRUE(reads.acquire(4));
  EXPECT_TRUE(reads.acquire(5));
  EXPECT_FALSE(reads.acquire(6));
  EXPECT_FALSE(reads.acquire(7));
  std::uint16_t next = 0;
  EXPECT_FALSE(reads.next_waiting(&next)) << "no credit free";
  reads.release();
  ASSERT_TRUE(reads.next_waiting(&next));
  EXPECT_EQ(next, 6);
  EXPECT_EQ(reads.outstanding(), 2u);
  ASSERT_TRUE(reads.drop_waiting(&next));
  EXPECT_EQ(next, 7);
  EXPECT_FALSE(reads.drop_waiting(&next));
  EXPECT_EQ(reads.outstanding(), 2u) << "dropped reads held no credit";
}

TEST_F(CapsuleQueueTest, OnlyKeyedHostDataNeedsARead) {
  CommandSlot write, read;
  auto cw = keyed(nvme_cmd_write, 1, 4096), cr = keyed(nvme_cmd_read, 2, 4096);
  start(write, cw);
  start(read, cr);
  EXPECT_TRUE(needs_read(write));
  EXPECT_FALSE(needs_read(read));
  write.req.data_ready = true;
  EXPECT_FALSE(needs_read(write)) << "already fetched";
}

// ------------------------------------------------------------------------------------------ host side

class HostSlotTest : public ::testing::Test {
 protected:
  HostRequest request(DataDirection direction, std::vector<iovec> buffers) {
    iovs = std::move(buffers);
    HostRequest req;
    req.direction = direction;
    req.iov = iovs.data();
    req.iovcnt = static_cast<std::uint32_t>(iovs.size());
    return req;
  }
  CountingRegistrar registrar;
  rdma::RegistrationCache cache{registrar};
  rdma::RegisteredPool bounce{registrar, 16384, 1, 1};
  std::vector<iovec> iovs;
  std::vector<std::byte> a = std::vector<std::byte>(4096), b = std::vector<std::byte>(4096);
};

TEST_F(HostSlotTest, OneBufferIsRegisteredInPlace) {
  auto req = request(DataDirection::controller_to_host, {{a.data(), a.size()}});
  HostSlot slot;
  KeyedRegion region;
  ASSERT_EQ(map_keyed_data(slot, req, request_length(req), cache, bounce, &region), "");
  ASSERT_NE(slot.registration, nullptr);
  EXPECT_FALSE(slot.bounce);
  EXPECT_EQ(region.address, reinterpret_cast<std::uintptr_t>(a.data()));
  EXPECT_LE(region.region_start, region.address);
  EXPECT_EQ(region.rkey, slot.registration->region.rkey);
  EXPECT_EQ(slot.registration->users, 1u);
  release_keyed_data(slot, cache, bounce);
  EXPECT_EQ(slot.registration, nullptr);
}

TEST_F(HostSlotTest, SeveralBuffersGoThroughABounceBufferBothWays) {
  std::fill(a.begin(), a.end(), std::byte{0x11});
  std::fill(b.begin(), b.end(), std::byte{0x22});
  auto req = request(DataDirection::host_to_controller, {{a.data(), 512}, {b.data(), 1024}});
  ASSERT_EQ(request_length(req), 1536u);
  HostSlot slot;
  KeyedRegion region;
  ASSERT_EQ(map_keyed_data(slot, req, 1536, cache, bounce, &region), "");
  ASSERT_TRUE(slot.bounce);
  EXPECT_EQ(region.address, reinterpret_cast<std::uintptr_t>(slot.bounce.data));
  EXPECT_EQ(region.region_start, region.address);
  EXPECT_EQ(slot.bounce.data[511], std::byte{0x11}) << "write data gathered into the bounce buffer";
  EXPECT_EQ(slot.bounce.data[512], std::byte{0x22});
  // Only one bounce buffer exists: a second multi-buffer request is refused, not queued.
  HostSlot other;
  EXPECT_NE(map_keyed_data(other, req, 1536, cache, bounce, &region), "");
  EXPECT_FALSE(other.bounce);
  EXPECT_EQ(other.registration, nullptr);

  // Read data comes back out of the bounce buffer when the command succeeded.
  auto read = request(DataDirection::controller_to_host, {{a.data(), 512}, {b.data(), 1024}});
  slot.req = &read;
  std::fill(slot.bounce.data, slot.bounce.data + 1536, std::byte{0x33});
  slot.response.cid = 3;
  fill_completion(slot, 3, Status::success());
  EXPECT_EQ(a[0], std::byte{0x33});
  EXPECT_EQ(b[1023], std::byte{0x33});
  EXPECT_EQ(read.cqe.cid, 3);
  release_keyed_data(slot, cache, bounce);
  EXPECT_TRUE(bounce.get()) << "the bounce buffer went back to the pool";
}

TEST_F(HostSlotTest, TooLargeForAKeyedSglIsRefused) {
  auto req = request(DataDirection::controller_to_host, {{a.data(), 4096}, {b.data(), 16384}});
  HostSlot slot;
  KeyedRegion region;
  const std::string why = map_keyed_data(slot, req, request_length(req), cache, bounce, &region);
  EXPECT_NE(why.find("exceeds the keyed SGL limit"), std::string::npos) << why;
  EXPECT_EQ(registrar.key, 0u) << "nothing registered for a refused request";
}

TEST_F(HostSlotTest, TransportFailureReplacesTheResponse) {
  auto req = request(DataDirection::controller_to_host, {{a.data(), 4096}});
  HostSlot slot;
  slot.req = &req;
  slot.response.cid = 9;
  fill_completion(slot, 9, Status::make(NVME_SCT_PATH, NVME_SC_HOST_PATH_ERROR));
  EXPECT_EQ(req.cqe.cid, 9);
  EXPECT_EQ(req.status(), Status::make(NVME_SCT_PATH, NVME_SC_HOST_PATH_ERROR));
}

TEST(CapsuleHostSlots, ResponseMatchesOnlyAnOutstandingUnansweredCid) {
  std::vector<HostSlot> slots(4);
  nvme::Cqe cqe{};
  cqe.cid = 2;
  EXPECT_EQ(slot_for_response(slots, cqe), nullptr) << "not outstanding";
  slots[2].busy = true;
  EXPECT_EQ(slot_for_response(slots, cqe), &slots[2]);
  slots[2].response_done = true;
  EXPECT_EQ(slot_for_response(slots, cqe), nullptr) << "answered twice";
  volatile std::uint16_t beyond = 4;  // volatile: GCC 12 otherwise warns about the index the check excludes
  cqe.cid = beyond;
  EXPECT_EQ(slot_for_response(slots, cqe), nullptr) << "beyond the queue";
}

TEST(CapsuleHostSlots, UnmappableRequestCompletesOnTheNextTurn) {
  Reactor reactor(0);
  HostRequest req;
  int completions = 0;
  req.context = &completions;
  req.on_complete = [](HostRequest& r) { ++*static_cast<int*>(r.context); };
  refuse_unmappable(req, 5, reactor, "test", 1, "no bounce buffer");
  EXPECT_EQ(completions, 0) << "never from inside submit()";
  reactor.run_once(std::chrono::milliseconds(0));
  EXPECT_EQ(completions, 1);
  EXPECT_EQ(req.cqe.cid, 5);
  EXPECT_EQ(req.status(), Status::make(NVME_SCT_GENERIC, NVME_SC_INTERNAL, true));
}

}  // namespace
}  // namespace nvmf::fabric::capsule_queue
