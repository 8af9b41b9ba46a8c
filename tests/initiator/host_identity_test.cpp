#include <gtest/gtest.h>

#include <fstream>
#include <string>

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

namespace {
// The first line of a file without trailing blanks, or "" when it cannot be read.
std::string first_line(const char* path) {
  std::ifstream f(path);
  std::string line;
  if (!std::getline(f, line)) return {};
  while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.pop_back();
  return line;
}
}  // namespace

TEST(HostIdentity, SystemFilesComeBeforeGeneratedValues) {
  // nvme-cli's order: options, then /etc/nvme/hostnqn and /etc/nvme/hostid, then generated. Whatever this
  // machine has, the resolution must match it.
  const std::string nqn_file = first_line("/etc/nvme/hostnqn"), id_file = first_line("/etc/nvme/hostid");
  HostIdentity id = resolve_host_identity("", "");
  if (!nqn_file.empty()) {
    EXPECT_EQ(id.hostnqn, nqn_file);
  } else {
    EXPECT_EQ(id.hostnqn.rfind("nqn.2014-08.org.nvmexpress:uuid:", 0), 0u);
  }
  if (parse_uuid(id_file)) {
    EXPECT_EQ(id.hostid_string(), id_file);
  }
  // An explicit option still wins over the files.
  HostIdentity given = resolve_host_identity("nqn.2014-08.org.example:given", "00112233-4455-6677-8899-aabbccddeeff");
  EXPECT_EQ(given.hostnqn, "nqn.2014-08.org.example:given");
  EXPECT_EQ(given.hostid_string(), "00112233-4455-6677-8899-aabbccddeeff");
}
