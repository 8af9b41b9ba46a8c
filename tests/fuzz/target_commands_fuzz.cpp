// libFuzzer harness: command dispatch of the target (fabrics, admin and I/O queues) against a subsystem with RAM
// namespaces, through the QueueHandler seam a transport uses (tests/target/fake_queue.hpp plays the transport:
// it hands over SQE and data and serves data fetches). A fresh registry per input, so every input replays alone.
//
// Input: [flags: 1 byte] then records [queue: 1 byte][SQE: 64 bytes][SGL length: 2 bytes LE][host data], the
// host data (host-to-controller commands only) being min(SGL length, what is left) bytes, zero-padded.
// queue bit 0 selects the I/O queue (else the admin queue). flags bit 0: the admin queue is connected and the
// controller enabled first (as the Linux host does); bit 1: I/O queue 1 connected too; bit 2: a second
// namespace with 4096-byte blocks.
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "fabric/log.hpp"
#include "fake_queue.hpp"
#include "nvme/fabrics.hpp"
#include "target/config.hpp"
#include "target/namespace_factory.hpp"
#include "target/queue_session.hpp"
#include "target/registry.hpp"

using namespace nvmf;

namespace {

constexpr const char* kHostNqn = "nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555";
constexpr const char* kSubNqn = "nqn.2024-01.io.nvmf:fuzz";

fabric::Reactor& reactor() {
  static auto* r = new fabric::Reactor(0);
  return *r;
}

void settle() {
  for (int idle = 0, turns = 0; idle < 2 && turns < 100; ++turns)
    idle = reactor().run_once(std::chrono::milliseconds(0)) ? 0 : idle + 1;
}

nvme::Sqe connect_sqe(std::uint16_t qid, std::uint16_t sqsize) {
  nvme::ConnectCommand c{};
  c.opcode = nvme::kFabricsOpcode;
  c.fctype = nvme_fabrics_type_connect;
  c.qid = qid;
  c.sqsize = sqsize;
  return nvme::to_sqe(c);
}

nvmf_connect_data connect_data(std::uint16_t cntlid) {
  nvmf_connect_data d{};
  for (int i = 0; i < 16; ++i) d.hostid[i] = static_cast<std::uint8_t>(0xA0 + i);
  d.cntlid = cntlid;
  std::strncpy(d.subsysnqn, kSubNqn, sizeof d.subsysnqn - 1);
  std::strncpy(d.hostnqn, kHostNqn, sizeof d.hostnqn - 1);
  return d;
}

void submit(test::FakeQueue& q, const nvme::Sqe& sqe, std::uint32_t length, const void* host_data) {
  if (q.outstanding() >= q.max_depth()) return;  // the host never exceeds the queue size
  q.submit(sqe, length, host_data, length <= 8192);
  settle();
  q.completions().clear();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // NVMF_FUZZ_LOG=1 keeps the product's own log level, to see why an input ends as it does.
  if (!std::getenv("NVMF_FUZZ_LOG")) log::set_level(log::Level::error);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t flags = data[0];
  std::size_t pos = 1;

  target::ControllerSettings settings;
  settings.limits.max_queue_depth = 32;
  auto registry = std::make_shared<target::Registry>(settings);
  target::SubsystemConfig sub;
  sub.nqn = kSubNqn;
  sub.serial = "FUZZ";
  target::NamespaceConfig ns;
  ns.kind = target::BackendKind::ram;
  ns.size = 256 * 1024;
  sub.namespaces.push_back(ns);
  if (flags & 4) {
    ns.block_size = 4096;
    sub.namespaces.push_back(ns);
  }
  registry->add_subsystem(target::make_subsystem(target::resolve_defaults(sub)));
  target::SessionFactory factory(registry);
  {
    auto admin = std::make_unique<test::FakeQueue>(reactor(), factory, 32);
    auto io = std::make_unique<test::FakeQueue>(reactor(), factory, 32);
    if (flags & 1) {
      auto d = connect_data(0xFFFF);
      admin->submit(connect_sqe(0, 31), sizeof d, &d);
      settle();
      std::uint16_t cntlid = admin->completions().empty() ? 0 : static_cast<std::uint16_t>(admin->completions()[0].cqe.dw0);
      nvme::PropertyCommand en{};
      en.opcode = nvme::kFabricsOpcode;
      en.fctype = nvme_fabrics_type_property_set;
      en.offset = NVME_REG_CC;
      en.value = 0x460061;  // EN, IOSQES 6, IOCQES 4
      submit(*admin, nvme::to_sqe(en), 0, nullptr);
      if (flags & 2) {
        auto io_data = connect_data(cntlid);
        submit(*io, connect_sqe(1, 31), sizeof io_data, &io_data);
      }
      admin->completions().clear();
    }

    std::vector<std::uint8_t> host_data;
    while (size - pos >= 1 + sizeof(nvme::Sqe) + 2) {
      const std::uint8_t queue = data[pos++];
      nvme::Sqe sqe;
      std::memcpy(&sqe, data + pos, sizeof sqe);
      pos += sizeof sqe;
      const std::uint32_t length = data[pos] | std::uint32_t(data[pos + 1]) << 8;
      pos += 2;
      host_data.assign(length, 0);
      if (test::FakeQueue::direction_of(sqe) == fabric::DataDirection::host_to_controller) {
        const std::size_t n = std::min<std::size_t>(length, size - pos);
        if (n) std::memcpy(host_data.data(), data + pos, n);
        pos += n;
      }
      submit((queue & 1) ? *io : *admin, sqe, length, host_data.data());
    }
    io.reset();  // the host goes away: I/O queue first, as a transport would see it
    settle();
    admin.reset();
    settle();
  }
  return 0;
}
