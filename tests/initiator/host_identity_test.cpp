#include <gtest/gtest.h>

#include "initiator/host_identity.hpp"

using namespace nvmf::initiator;

TEST(HostIdentity, UuidRoundTrip) {
  auto b = parse_uuid("12345678-9abc-def0-1122-334455667788");
  ASSERT_TRUE(b);
  EXPECT_EQ((*b)[0], 0x12);
  EXPECT_EQ((*b)[15], 0x88);
  EXPECT_EQ(format_uuid(*b), "12345678-9abc-def0-1122-334455667788");
}

TEST(HostIdentity, RejectsMalformedUuid) {
  EXPECT_FALSE(parse_uuid("12345678-9abc-def0-1122-33445566778"));
  EXPECT_FALSE(parse_uuid("12345678x9abc-def0-1122-334455667788"));
  EXPECT_FALSE(parse_uuid("g2345678-9abc-def0-1122-334455667788"));
  EXPECT_THROW(resolve_host_identity("nqn.h", "not-a-uuid"), std::invalid_argument);
}

TEST(HostIdentity, ExplicitValuesWin) {
  HostIdentity id = resolve_host_identity("nqn.2014-08.org.example:host", "00112233-4455-6677-8899-aabbccddeeff");
  EXPECT_EQ(id.hostnqn, "nqn.2014-08.org.example:host");
  EXPECT_EQ(id.hostid_string(), "00112233-4455-6677-8899-aabbccddeeff");
}

TEST(HostIdentity, HostIdFollowsUuidNqnWhenNoFile) {
  // With an explicit uuid-form NQN and no explicit host ID, the ID is the NQN's UUID unless /etc/nvme/hostid
  // exists (then that one). Either way it is a well-formed 16-byte ID.
  HostIdentity id = resolve_host_identity("nqn.2014-08.org.nvmexpress:uuid:0f0e0d0c-0b0a-0908-0706-050403020100", "");
  EXPECT_EQ(id.hostid_string().size(), 36u);
  EXPECT_FALSE(id.hostnqn.empty());
}

TEST(HostIdentity, AlwaysProducesAnIdentity) {
  HostIdentity id = resolve_host_identity("", "");
  EXPECT_EQ(id.hostnqn.rfind("nqn.", 0), 0u);
  EXPECT_NE(id.hostid, (std::array<std::uint8_t, 16>{}));
}
