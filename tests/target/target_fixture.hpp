// Shared set-up for the target unit tests: a reactor driven by the test thread, a registry with subsystems,
// command builders, and helpers for the Connect / enable sequence the Linux host performs.
#pragma once
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "fake_queue.hpp"
#include "target/config.hpp"
#include "target/controller.hpp"
#include "target/queue_session.hpp"
#include "target/registry.hpp"
#include "target/target.hpp"

namespace nvmf::test {

inline constexpr const char* kHostNqn = "nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555";
inline constexpr const char* kOtherHostNqn = "nqn.2014-08.org.nvmexpress:uuid:99999999-2222-3333-4444-555555555555";
inline constexpr const char* kSubNqn = "nqn.2024-01.io.nvmf:test";

// --- command builders -------------------------------------------------------------------------------------

inline nvme::Sqe connect_sqe(std::uint16_t qid, std::uint16_t sqsize, std::uint32_t kato = 0, std::uint16_t cid = 1) {
  nvme::ConnectCommand c{};
  c.opcode = nvme::kFabricsOpcode;
  c.cid = cid;
  c.fctype = nvme_fabrics_type_connect;
  c.qid = qid;
  c.sqsize = sqsize;
  c.kato = kato;
  return nvme::to_sqe(c);
}

inline nvmf_connect_data connect_data(const std::string& host, const std::string& subnqn,
                                      std::uint16_t cntlid = 0xFFFF) {
  nvmf_connect_data d{};
  for (int i = 0; i < 16; ++i) d.hostid[i] = static_cast<std::uint8_t>(0xA0 + i);
  d.cntlid = cntlid;
  std::strncpy(d.subsysnqn, subnqn.c_str(), sizeof d.subsysnqn - 1);
  std::strncpy(d.hostnqn, host.c_str(), sizeof d.hostnqn - 1);
  return d;
}

inline nvme::Sqe property_get(std::uint32_t offset, bool eight_bytes = false) {
  nvme::PropertyCommand c{};
  c.opcode = nvme::kFabricsOpcode;
  c.fctype = nvme_fabrics_type_property_get;
  c.attrib = eight_bytes ? 1 : 0;
  c.offset = offset;
  return nvme::to_sqe(c);
}

inline nvme::Sqe property_set(std::uint32_t offset, std::uint64_t value, bool eight_bytes = false) {
  nvme::PropertyCommand c{};
  c.opcode = nvme::kFabricsOpcode;
  c.fctype = nvme_fabrics_type_property_set;
  c.attrib = eight_bytes ? 1 : 0;
  c.offset = offset;
  c.value = value;
  return nvme::to_sqe(c);
}

inline nvme::Sqe fabrics_sqe(std::uint8_t fctype) {
  nvme::Sqe s{};
  s.opcode = nvme::kFabricsOpcode;
  s.bytes()[4] = fctype;
  return s;
}

inline nvme::Sqe admin_sqe(std::uint8_t opcode, std::uint32_t nsid = 0, std::uint32_t cdw10 = 0,
                           std::uint32_t cdw11 = 0) {
  nvme::Sqe s{};
  s.opcode = opcode;
  s.nsid = nsid;
  s.cdw10 = cdw10;
  s.cdw11 = cdw11;
  return s;
}

inline nvme::Sqe identify_sqe(std::uint8_t cns, std::uint32_t nsid = 0, std::uint8_t csi = 0) {
  return admin_sqe(nvme_admin_identify, nsid, cns, std::uint32_t(csi) << 24);
}

inline nvme::Sqe get_log_sqe(std::uint8_t lid, std::uint32_t length, std::uint64_t offset = 0,
                             std::uint32_t nsid = NVME_NSID_ALL, bool rae = false) {
  std::uint32_t numd = length / 4 - 1;
  nvme::Sqe s = admin_sqe(nvme_admin_get_log_page, nsid, lid | (rae ? 1u << 15 : 0) | (numd & 0xFFFF) << 16,
                          numd >> 16);
  s.cdw12 = static_cast<std::uint32_t>(offset);
  s.cdw13 = static_cast<std::uint32_t>(offset >> 32);
  return s;
}

inline nvme::Sqe io_sqe(std::uint8_t opcode, std::uint32_t nsid, std::uint64_t slba, std::uint32_t nlb,
                        std::uint32_t cdw12_flags = 0) {
  nvme::Sqe s{};
  s.opcode = opcode;
  s.nsid = nsid;
  s.cdw10 = static_cast<std::uint32_t>(slba);
  s.cdw11 = static_cast<std::uint32_t>(slba >> 32);
  s.cdw12 = (nlb - 1) | cdw12_flags;
  return s;
}

inline std::uint32_t cc_enable() { return 0x460061; }  // what the Linux host writes: EN, IOSQES 6, IOCQES 4

template <typename T>
T as(const Completion& c) {
  T out{};
  EXPECT_GE(c.data.size(), sizeof out);
  std::memcpy(&out, c.data.data(), std::min(sizeof out, c.data.size()));
  return out;
}

// --- fixture ------------------------------------------------------------------------------------------------

class TargetTest : public ::testing::Test {
 protected:
  TargetTest() : reactor_(0) {}

  /// A registry with `subsystems` (namespaces opened by the real factory) and default limits.
  void make_registry(const std::vector<target::SubsystemConfig>& subsystems, target::ControllerSettings settings = {}) {
    registry_ = std::make_shared<target::Registry>(settings);
    for (const auto& s : subsystems) registry_->add_subsystem(target::make_subsystem(target::resolve_defaults(s)));
    factory_ = std::make_unique<target::SessionFactory>(registry_);
  }

  static target::SubsystemConfig ram_subsystem(const std::string& nqn = kSubNqn, std::uint64_t size = 1 << 20,
                                               std::uint32_t block_size = 512, int count = 1) {
    target::SubsystemConfig s;
    s.nqn = nqn;
    s.serial = "SN123";
    for (int i = 0; i < count; ++i) {
      target::NamespaceConfig ns;
      ns.kind = target::BackendKind::ram;
      ns.size = size;
      ns.block_size = block_size;
      s.namespaces.push_back(ns);
    }
    return s;
  }

  std::unique_ptr<FakeQueue> new_queue(std::uint16_t depth = 128) {
    return std::make_unique<FakeQueue>(reactor_, *factory_, depth);
  }

  Completion connect(FakeQueue& q, std::uint16_t qid, std::uint16_t sqsize, const nvmf_connect_data& data,
                     std::uint32_t kato = 0) {
    return q.run(connect_sqe(qid, sqsize, kato), sizeof data, &data);
  }

  /// Admin Connect + the Linux host's enable sequence; returns the CNTLID.
  std::uint16_t connect_and_enable(FakeQueue& admin, const std::string& subnqn = kSubNqn,
                                   const std::string& host = kHostNqn, std::uint32_t kato = 0) {
    auto c = connect(admin, 0, 31, connect_data(host, subnqn), kato);
    EXPECT_TRUE(c.status().ok()) << c.status().to_string();
    auto en = admin.run(property_set(NVME_REG_CC, cc_enable()));
    EXPECT_TRUE(en.status().ok());
    return static_cast<std::uint16_t>(c.cqe.dw0);
  }

  /// Connect I/O queue `qid` to controller `cntlid`.
  Completion connect_io(FakeQueue& q, std::uint16_t cntlid, std::uint16_t qid, std::uint16_t sqsize = 127,
                        const std::string& subnqn = kSubNqn, const std::string& host = kHostNqn) {
    return connect(q, qid, sqsize, connect_data(host, subnqn, cntlid));
  }

  std::shared_ptr<target::Controller> controller(std::uint16_t cntlid, const std::string& subnqn = kSubNqn,
                                                 const std::string& host = kHostNqn) {
    return registry_->find(subnqn)->find_controller(cntlid, host);
  }

  void drain(int turns = 20) {
    for (int i = 0; i < turns; ++i) reactor_.run_once(std::chrono::milliseconds(1));
  }

  fabric::Reactor reactor_;
  std::shared_ptr<target::Registry> registry_;
  std::unique_ptr<target::SessionFactory> factory_;
};

}  // namespace nvmf::test
