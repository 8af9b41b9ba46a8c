#include "nvme/status.hpp"

#include <gtest/gtest.h>

#include "nvme/cqe.hpp"

using namespace nvmf::nvme;

TEST(Status, FieldsAndCqeEncoding) {
  Status s = Status::generic(NVME_SC_INVALID_FIELD);
  EXPECT_EQ(s.sct(), 0);
  EXPECT_EQ(s.sc(), 0x02);
  EXPECT_TRUE(s.dnr());
  EXPECT_FALSE(s.ok());
  // CQE status field: phase in bit 0, SC bits 8:1, SCT 11:9, DNR bit 15.
  EXPECT_EQ(s.to_cqe_field(), 0x8004);
  EXPECT_EQ(Status::from_cqe_field(0x8004), s);

  Status host = Status::command_specific(NVME_SC_CONNECT_INVALID_HOST);
  EXPECT_EQ(host.sct(), 1);
  EXPECT_EQ(host.sc(), 0x84);
  EXPECT_EQ(host.to_cqe_field() >> 9 & 7, 1);

  Cqe cqe{};
  cqe.set_status(Status::media(NVME_SC_READ_ERROR));
  EXPECT_EQ(cqe.get_status().sct(), 2);
  EXPECT_EQ(cqe.get_status().sc(), 0x81);
  EXPECT_TRUE(Status::success().ok());
  EXPECT_TRUE(Status::success().same_code(Status::success().with_dnr()));
}

TEST(Status, TextComesFromLibnvme) {
  EXPECT_NE(Status::generic(NVME_SC_INVALID_OPCODE).to_string().find("Invalid Command Opcode"), std::string::npos);
  EXPECT_NE(Status::generic(NVME_SC_LBA_RANGE).to_string().find("LBA Out of Range"), std::string::npos);
  EXPECT_NE(Status::generic(NVME_SC_INVALID_OPCODE).to_string().find("SCT 0h SC 01h DNR"), std::string::npos);
  // SCT 1h SC 82h: an NVM command's "Attempted Write to Read Only Range", a Connect's "Invalid Parameters".
  const Status sc82 = Status::make(NVME_SCT_CMD_SPECIFIC, NVME_SC_READ_ONLY);
  EXPECT_NE(sc82.to_string().find("Read Only"), std::string::npos) << sc82.to_string();
  EXPECT_EQ(sc82.to_string(true).find("Read Only"), std::string::npos) << sc82.to_string(true);
}
