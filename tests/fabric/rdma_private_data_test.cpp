// NVMe/RDMA rdma_cm private data: what the listener accepts and each reject status it answers with.
#include <gtest/gtest.h>

#include <cstring>

#include "fabric/rdma/cm_private_data.hpp"

namespace nvmf::fabric::rdma {
namespace {

using nvme::rdma::CmRejectStatus;
using nvme::rdma::CmRequest;

CmLimits limits() {
  CmLimits l;
  l.max_queue_depth = 128;
  l.device_max_read_depth = 16;
  return l;
}

// rdma_cm delivers a REQ's private data padded to 56 bytes (IB CM REQ private data minus the CMA header).
struct PaddedRequest {
  std::uint8_t bytes[56] = {};
  explicit PaddedRequest(const CmRequest& r) { std::memcpy(bytes, &r, sizeof r); }
};

TEST(RdmaPrivateData, LinuxAdminQueueRequestIsAccepted) {
  // The Linux host: HRQSIZE 32, HSQSIZE 31 on the admin queue, CNTLID 0 before it knows the controller.
  PaddedRequest req(make_connect_request(0, 32, 0));
  auto v = validate_connect_request(req.bytes, sizeof req.bytes, 16, limits());
  ASSERT_FALSE(v.reject) << v.reason;
  EXPECT_EQ(v.params.qid, 0);
  EXPECT_EQ(v.params.queue_depth, 32);
  EXPECT_EQ(v.params.host_recv_queue_size, 32);
  EXPECT_EQ(v.params.cntlid, 0);
  EXPECT_EQ(v.params.read_depth, 16);
}

TEST(RdmaPrivateData, ConnectRequestLayout) {
  auto req = make_connect_request(3, 128, 0x21);
  const auto* b = reinterpret_cast<const std::uint8_t*>(&req);
  EXPECT_EQ(b[0] | b[1] << 8, 0);       // RECFMT
  EXPECT_EQ(b[2] | b[3] << 8, 3);       // QID
  EXPECT_EQ(b[4] | b[5] << 8, 128);     // HRQSIZE
  EXPECT_EQ(b[6] | b[7] << 8, 127);     // HSQSIZE, 0's based
  EXPECT_EQ(b[8] | b[9] << 8, 0x21);    // CNTLID
  for (std::size_t i = 10; i < sizeof req; ++i) EXPECT_EQ(b[i], 0) << i;
}

TEST(RdmaPrivateData, ReadDepthIsClampedToTheDevice) {
  PaddedRequest req(make_connect_request(1, 64, 1));
  EXPECT_EQ(validate_connect_request(req.bytes, sizeof req.bytes, 200, limits()).params.read_depth, 16);
  EXPECT_EQ(validate_connect_request(req.bytes, sizeof req.bytes, 4, limits()).params.read_depth, 4);
}

TEST(RdmaPrivateData, ShortPrivateDataIsInvalidLength) {
  auto req = make_connect_request(1, 64, 1);
  auto v = validate_connect_request(&req, sizeof req - 1, 16, limits());
  ASSERT_TRUE(v.reject);
  EXPECT_EQ(*v.reject, CmRejectStatus::invalid_private_data_length);
  EXPECT_EQ(*validate_connect_request(nullptr, 0, 16, limits()).reject, CmRejectStatus::invalid_private_data_length);
  // Exactly 32 bytes is enough (iWARP and RoCE deliver it unpadded or padded).
  EXPECT_FALSE(validate_connect_request(&req, sizeof req, 16, limits()).reject);
}

TEST(RdmaPrivateData, NonZeroRecfmtIsRejected) {
  auto req = make_connect_request(1, 64, 1);
  req.recfmt = 1;
  auto v = validate_connect_request(&req, sizeof req, 16, limits());
  ASSERT_TRUE(v.reject);
  EXPECT_EQ(*v.reject, CmRejectStatus::invalid_recfmt);
}

TEST(RdmaPrivateData, ReservedQidIsRejected) {
  auto req = make_connect_request(0xFFFF, 64, 1);
  ASSERT_TRUE(validate_connect_request(&req, sizeof req, 16, limits()).reject);
  EXPECT_EQ(*validate_connect_request(&req, sizeof req, 16, limits()).reject, CmRejectStatus::invalid_qid);
}

TEST(RdmaPrivateData, HsqsizeOutsideLimitsIsRejected) {
  auto too_deep = make_connect_request(1, 129, 1);
  auto v = validate_connect_request(&too_deep, sizeof too_deep, 16, limits());
  ASSERT_TRUE(v.reject);
  EXPECT_EQ(*v.reject, CmRejectStatus::invalid_hsqsize);
  EXPECT_NE(v.reason.find("128"), std::string::npos) << v.reason;  // names the value and the limit

  auto single = make_connect_request(1, 1, 1);  // HSQSIZE 0: a one-entry queue
  EXPECT_EQ(*validate_connect_request(&single, sizeof single, 16, limits()).reject, CmRejectStatus::invalid_hsqsize);

  auto at_limit = make_connect_request(1, 128, 1);
  EXPECT_FALSE(validate_connect_request(&at_limit, sizeof at_limit, 16, limits()).reject);
}

TEST(RdmaPrivateData, HrqsizeBelowQueueDepthIsRejected) {
  auto req = make_connect_request(1, 64, 1);
  req.hrqsize = 63;
  EXPECT_EQ(*validate_connect_request(&req, sizeof req, 16, limits()).reject, CmRejectStatus::invalid_hrqsize);
  req.hrqsize = 200;  // more receive buffers than commands is fine
  EXPECT_FALSE(validate_connect_request(&req, sizeof req, 16, limits()).reject);
}

TEST(RdmaPrivateData, HostWithoutReadResourcesIsInvalidIrd) {
  auto req = make_connect_request(1, 64, 1);
  EXPECT_EQ(*validate_connect_request(&req, sizeof req, 0, limits()).reject, CmRejectStatus::invalid_ird);
}

TEST(RdmaPrivateData, FirstBadFieldWins) {
  auto req = make_connect_request(0xFFFF, 1000, 1);
  req.recfmt = 7;
  EXPECT_EQ(*validate_connect_request(&req, sizeof req, 0, limits()).reject, CmRejectStatus::invalid_recfmt);
}

TEST(RdmaPrivateData, AcceptAndRejectLayouts) {
  auto accept = make_accept(96);
  const auto* a = reinterpret_cast<const std::uint8_t*>(&accept);
  EXPECT_EQ(sizeof accept, 32u);
  EXPECT_EQ(a[0] | a[1] << 8, 0);
  EXPECT_EQ(a[2] | a[3] << 8, 96);
  EXPECT_EQ(parse_accept(&accept, sizeof accept), 96);

  auto reject = make_reject(CmRejectStatus::invalid_hsqsize);
  const auto* r = reinterpret_cast<const std::uint8_t*>(&reject);
  EXPECT_EQ(sizeof reject, 4u);
  EXPECT_EQ(r[0] | r[1] << 8, 0);
  EXPECT_EQ(r[2] | r[3] << 8, 4);
}

TEST(RdmaPrivateData, HostReadsAcceptAndReject) {
  std::uint8_t padded[196] = {};  // an IB CM REP pads private data
  auto accept = make_accept(32);
  std::memcpy(padded, &accept, sizeof accept);
  EXPECT_EQ(parse_accept(padded, sizeof padded), 32);
  accept.recfmt = 2;
  EXPECT_FALSE(parse_accept(&accept, sizeof accept));
  EXPECT_FALSE(parse_accept(nullptr, 0));

  for (int s = 1; s <= 8; ++s) {
    auto rej = make_reject(static_cast<CmRejectStatus>(s));
    std::string text = describe_reject(&rej, sizeof rej);
    EXPECT_NE(text.find(reject_status_name(static_cast<CmRejectStatus>(s))), std::string::npos) << text;
    // Built by append: GCC 12 warns falsely (-Wrestrict) on "(" + std::to_string(...).
    const std::string code = std::string("(").append(std::to_string(s)).append(")");
    EXPECT_NE(text.find(code), std::string::npos) << text;
  }
  EXPECT_EQ(describe_reject(nullptr, 0), "rejected without NVMe/RDMA private data");
}

}  // namespace
}  // namespace nvmf::fabric::rdma
