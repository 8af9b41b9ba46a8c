// The transport seam seen from above: what the initiator asks a HostQueue without knowing its transport (the
// in-capsule limit, buffer registration) and the helpers every transport shares (command direction, the host's
// own statuses). Over TCP on loopback; RDMA's clamp is in rdma_capsule_test (no device needed there).
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "fabric/command_direction.hpp"
#include "fabric/host_status.hpp"
#include "fabric/tcp/host_queue.hpp"
#include "nvme/fabrics.hpp"
#include "tcp_test_support.hpp"

using namespace nvmf;
using namespace nvmf::fabric;
using namespace nvmf::fabric::tcp::testing;

namespace {

nvme::Sqe sqe_of(std::uint8_t opcode) {
  nvme::Sqe sqe{};
  sqe.opcode = opcode;
  return sqe;
}

nvme::Sqe fabrics(std::uint8_t fctype) {
  nvme::Sqe sqe = sqe_of(nvme::kFabricsOpcode);
  sqe.bytes()[offsetof(nvme::FabricsCommand, fctype)] = fctype;
  return sqe;
}

}  // namespace

TEST(CommandDirection, FromOpcodeBitsOrFctypeBits) {
  EXPECT_EQ(command_direction(sqe_of(nvme_cmd_write)).direction, DataDirection::host_to_controller);
  EXPECT_EQ(command_direction(sqe_of(nvme_cmd_read)).direction, DataDirection::controller_to_host);
  EXPECT_EQ(command_direction(sqe_of(nvme_cmd_flush)).direction, DataDirection::none);
  EXPECT_EQ(command_direction(sqe_of(nvme_admin_identify)).direction, DataDirection::controller_to_host);
  EXPECT_FALSE(command_direction(sqe_of(nvme_cmd_write)).bidirectional);
  // Fabrics commands: the fctype's bits, not the opcode's (7Fh would read as bidirectional).
  EXPECT_EQ(command_direction(fabrics(nvme_fabrics_type_connect)).direction, DataDirection::host_to_controller);
  EXPECT_EQ(command_direction(fabrics(nvme_fabrics_type_property_get)).direction, DataDirection::none);
  EXPECT_FALSE(command_direction(fabrics(nvme_fabrics_type_property_get)).bidirectional);
  const auto both = command_direction(sqe_of(0x03));
  EXPECT_TRUE(both.bidirectional);
  EXPECT_EQ(both.direction, DataDirection::none);
}

TEST(HostStatus, PathErrorMayBeRetriedAbortIsTheHosts) {
  EXPECT_EQ(host_path_error().sct(), NVME_SCT_PATH);
  EXPECT_EQ(host_path_error().sc(), NVME_SC_HOST_PATH_ERROR);
  EXPECT_FALSE(host_path_error().dnr());
  EXPECT_EQ(host_aborted().sct(), NVME_SCT_PATH);
  EXPECT_EQ(host_aborted().sc(), NVME_SC_CMD_ABORTED_BY_HOST);
  EXPECT_FALSE(host_path_error() == host_aborted());
}

TEST(HostQueueSeam, TcpReportsAndTakesItsInCapsuleLimitThroughTheInterface) {
  TestServer server;
  Reactor reactor(1);
  HostQueueOptions options;
  options.trsvcid = server.port();
  options.queue_depth = 8;
  options.connect_timeout = std::chrono::milliseconds(2000);
  std::string error;
  std::unique_ptr<HostQueue> queue = connect_tcp_host_queue(reactor, options, &error);
  ASSERT_TRUE(queue) << error;
  // Before Identify: 8 KiB, the admin and fabrics commands' in-capsule size the spec fixes.
  EXPECT_EQ(queue->in_capsule_limit(), 8192u);
  // IOCCSZ of an I/O queue, as the initiator passes it: TCP takes it as it is (data goes from the caller's
  // buffers, there is no capsule buffer to clamp to).
  queue->set_in_capsule_limit(16384 - 64);
  EXPECT_EQ(queue->in_capsule_limit(), 16384u - 64);
  queue->set_in_capsule_limit(0);
  EXPECT_EQ(queue->in_capsule_limit(), 0u);
  // No memory registration over TCP: registering succeeds and does nothing, leaving any error text alone.
  std::vector<std::byte> buffer(4096);
  error = "untouched";
  EXPECT_TRUE(queue->register_buffer(buffer.data(), buffer.size(), &error));
  EXPECT_EQ(error, "untouched");
  queue->unregister_buffer(buffer.data(), buffer.size());
  EXPECT_TRUE(queue->alive());
  queue.reset();
  reactor.run_once(std::chrono::milliseconds(10));
}
