// rdma_smoke: an NVMe/RDMA host end to end over fabric/ and nvme/ only, for the interop VM. Connects the admin
// queue (rdma_cm + Fabrics Connect), reads CAP, enables the controller, identifies controller and namespace,
// connects one I/O queue, writes and reads back blocks in each data path the host queue has (in-capsule write,
// keyed write and read through the registration cache, multi-buffer write and read through bounce buffers), then
// shuts the controller down. Exit status 0 only when every step and every comparison succeeded.
//
//   rdma_smoke TRADDR TRSVCID SUBNQN [NSID] [--memory-windows]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "fabric/rdma/host_queue.hpp"
#include "fabric/reactor.hpp"
#include "nvme/fabrics.hpp"
#include "nvme/libnvme.hpp"

using namespace nvmf;
using fabric::DataDirection;
using fabric::HostRequest;

namespace {

constexpr char kHostNqn[] = "nqn.2014-08.org.nvmexpress:uuid:5e1f0d2c-8a4b-4c3e-9d7f-0123456789ab";

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "rdma_smoke: FAIL: %s\n", what.c_str());
  std::exit(1);
}
void step(const std::string& what) { std::printf("rdma_smoke: %s\n", what.c_str()); std::fflush(stdout); }

struct Sync {
  bool done = false;
};

// Submit one command and drive the reactor until it completes.
nvme::Cqe run(fabric::Reactor& reactor, fabric::HostQueue& queue, nvme::Sqe sqe, DataDirection dir,
              const iovec* iov, std::uint32_t iovcnt, const char* what) {
  HostRequest req;
  Sync sync;
  req.sqe = sqe;
  req.direction = dir;
  req.iov = iov;
  req.iovcnt = iovcnt;
  req.context = &sync;
  req.on_complete = [](HostRequest& r) { static_cast<Sync*>(r.context)->done = true; };
  if (!queue.submit(req)) die(std::string(what) + ": submit refused: " + queue.error().message);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!sync.done) {
    if (std::chrono::steady_clock::now() > deadline) die(std::string(what) + ": no completion in 30 s");
    reactor.run_once(std::chrono::milliseconds(100));
  }
  if (!req.status().ok()) die(std::string(what) + ": " + req.status().to_string());
  return req.cqe;
}

nvme::Cqe run_one(fabric::Reactor& r, fabric::HostQueue& q, nvme::Sqe sqe, DataDirection dir, void* buf,
                  std::size_t len, const char* what) {
  iovec iov{buf, len};
  return run(r, q, sqe, dir, len ? &iov : nullptr, len ? 1 : 0, what);
}

nvme::Sqe connect_command(std::uint16_t qid, std::uint16_t sqsize, std::uint32_t kato) {
  nvme::ConnectCommand c{};
  c.opcode = nvme::kFabricsOpcode;
  c.fctype = nvme_fabrics_type_connect;
  c.qid = qid;
  c.sqsize = sqsize;
  c.kato = kato;
  return nvme::to_sqe(c);
}

std::uint16_t fabrics_connect(fabric::Reactor& r, fabric::HostQueue& q, std::uint16_t qid, std::uint16_t cntlid,
                              const std::string& subnqn) {
  alignas(4096) static nvmf_connect_data data;
  std::memset(&data, 0, sizeof data);
  for (int i = 0; i < 16; ++i) data.hostid[i] = static_cast<std::uint8_t>(0x5e + i);
  data.cntlid = cntlid;
  std::snprintf(data.subsysnqn, sizeof data.subsysnqn, "%s", subnqn.c_str());
  std::snprintf(data.hostnqn, sizeof data.hostnqn, "%s", kHostNqn);
  auto cqe = run_one(r, q, connect_command(qid, static_cast<std::uint16_t>(q.depth() - 1), qid ? 0 : 30000),
                     DataDirection::host_to_controller, &data, sizeof data, "Connect");
  return static_cast<std::uint16_t>(cqe.dw0);
}

nvme::Sqe property(bool set, std::uint32_t offset, bool eight, std::uint64_t value = 0) {
  nvme::PropertyCommand p{};
  p.opcode = nvme::kFabricsOpcode;
  p.fctype = set ? nvme_fabrics_type_property_set : nvme_fabrics_type_property_get;
  p.attrib = eight ? 1 : 0;
  p.offset = offset;
  p.value = value;
  return nvme::to_sqe(p);
}

nvme::Sqe io(std::uint8_t opcode, std::uint32_t nsid, std::uint64_t slba, std::uint32_t blocks) {
  nvme::Sqe s{};
  s.opcode = opcode;
  s.nsid = nsid;
  s.cdw10 = static_cast<std::uint32_t>(slba);
  s.cdw11 = static_cast<std::uint32_t>(slba >> 32);
  s.cdw12 = blocks - 1;
  return s;
}

void fill(std::vector<std::uint8_t>& v, std::mt19937& rng) {
  for (auto& b : v) b = static_cast<std::uint8_t>(rng());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s TRADDR TRSVCID SUBNQN [NSID] [--memory-windows]\n", argv[0]);
    return 2;
  }
  const std::string subnqn = argv[3];
  const std::uint32_t nsid = argc > 4 ? static_cast<std::uint32_t>(std::strtoul(argv[4], nullptr, 0)) : 1;
  const bool windows = argc > 5 && std::string(argv[5]) == "--memory-windows";
  fabric::Reactor reactor(0);
  fabric::HostQueueOptions options;
  options.traddr = argv[1];
  options.trsvcid = argv[2];
  options.queue_depth = 32;
  std::string error;

  auto admin = fabric::connect_rdma_host_queue(reactor, options, 0, nvme::kDynamicCntlid, &error, windows);
  if (!admin) die("admin queue: " + error);
  step("admin queue connected (crqsize " + std::to_string(admin->controller_receive_queue_size()) +
       ", remote invalidation " + (admin->remote_invalidation() ? "on" : "off") + ")");
  const std::uint16_t cntlid = fabrics_connect(reactor, *admin, 0, nvme::kDynamicCntlid, subnqn);
  step("Connect: cntlid " + std::to_string(cntlid));

  const std::uint64_t cap = run_one(reactor, *admin, property(false, NVME_REG_CAP, true), DataDirection::none,
                                    nullptr, 0, "Property Get CAP").result64();
  step("CAP " + std::to_string(cap) + " (MQES " + std::to_string(NVME_CAP_MQES(cap)) + ")");
  const std::uint32_t cc = 6u << NVME_CC_IOSQES_SHIFT | 4u << 20 | 1u;  // IOSQES 6, IOCQES 4, EN
  run_one(reactor, *admin, property(true, NVME_REG_CC, false, cc), DataDirection::none, nullptr, 0, "Property Set CC");
  for (int i = 0;; ++i) {
    auto csts = run_one(reactor, *admin, property(false, NVME_REG_CSTS, false), DataDirection::none, nullptr, 0,
                        "Property Get CSTS").dw0;
    if (NVME_CSTS_RDY(csts)) break;
    if (i > 100) die("CSTS.RDY never set");
    reactor.run_once(std::chrono::milliseconds(50));
  }
  step("controller enabled");

  alignas(4096) static nvme_id_ctrl id_ctrl;
  nvme::Sqe identify{};
  identify.opcode = nvme_admin_identify;
  identify.cdw10 = NVME_IDENTIFY_CNS_CTRL;
  run_one(reactor, *admin, identify, DataDirection::controller_to_host, &id_ctrl, sizeof id_ctrl,
          "Identify controller");
  if (std::strncmp(id_ctrl.subnqn, subnqn.c_str(), sizeof id_ctrl.subnqn) != 0)
    die("Identify SUBNQN '" + std::string(id_ctrl.subnqn, strnlen(id_ctrl.subnqn, 256)) + "' != '" + subnqn + "'");
  step("Identify controller: model '" + std::string(id_ctrl.mn, sizeof id_ctrl.mn) + "', IOCCSZ " +
       std::to_string(id_ctrl.ioccsz) + ", MDTS " + std::to_string(id_ctrl.mdts));

  alignas(4096) static nvme_id_ns id_ns;
  identify.nsid = nsid;
  identify.cdw10 = NVME_IDENTIFY_CNS_NS;
  run_one(reactor, *admin, identify, DataDirection::controller_to_host, &id_ns, sizeof id_ns, "Identify namespace");
  const unsigned lbaf = id_ns.flbas & 0xF;
  const std::uint32_t block = 1u << id_ns.lbaf[lbaf].ds;
  if (id_ns.nsze == 0 || block < 512) die("namespace " + std::to_string(nsid) + " has no capacity");
  step("namespace " + std::to_string(nsid) + ": " + std::to_string(id_ns.nsze) + " blocks of " +
       std::to_string(block));

  nvme::Sqe features{};
  features.opcode = nvme_admin_set_features;
  features.cdw10 = NVME_FEAT_FID_NUM_QUEUES;
  features.cdw11 = 0;  // one submission and one completion queue (0's based)
  run_one(reactor, *admin, features, DataDirection::none, nullptr, 0, "Set Features number of queues");

  auto ioq = fabric::connect_rdma_host_queue(reactor, options, 1, cntlid, &error, windows);
  if (!ioq) die("I/O queue: " + error);
  fabrics_connect(reactor, *ioq, 1, cntlid, subnqn);
  if (id_ctrl.ioccsz > 4) ioq->set_in_capsule_limit(id_ctrl.ioccsz * 16 - 64);
  step("I/O queue connected, in-capsule limit " + std::to_string(ioq->in_capsule_limit()));

  std::mt19937 rng(12345);
  // 1. Small write: in-capsule when the controller allows it; read back keyed.
  std::vector<std::uint8_t> small(block), back(block);
  fill(small, rng);
  run_one(reactor, *ioq, io(nvme_cmd_write, nsid, 3, 1), DataDirection::host_to_controller, small.data(),
          small.size(), "write 1 block");
  run_one(reactor, *ioq, io(nvme_cmd_read, nsid, 3, 1), DataDirection::controller_to_host, back.data(), back.size(),
          "read 1 block");
  if (back != small) die("1-block read back differs from what was written");
  step("1 block written and read back");

  // 2. 64 KiB keyed write and read, pre-registered buffers, twice (the second pass hits the cache).
  const std::uint32_t big_blocks = 65536 / block;
  std::vector<std::uint8_t> big(65536), big_back(65536);
  if (!ioq->register_buffer(big.data(), big.size(), &error)) die("register_buffer: " + error);
  for (int pass = 0; pass < 2; ++pass) {
    fill(big, rng);
    std::fill(big_back.begin(), big_back.end(), 0);
    run_one(reactor, *ioq, io(nvme_cmd_write, nsid, 64, big_blocks), DataDirection::host_to_controller, big.data(),
            big.size(), "write 64 KiB");
    run_one(reactor, *ioq, io(nvme_cmd_read, nsid, 64, big_blocks), DataDirection::controller_to_host,
            big_back.data(), big_back.size(), "read 64 KiB");
    if (big_back != big) die("64 KiB read back differs (pass " + std::to_string(pass) + ")");
  }
  step("64 KiB written and read back twice");

  // 3. Multi-buffer (bounce) write and read: 3 iovecs.
  std::vector<std::uint8_t> a(block * 2), b(block), c(block * 5);
  fill(a, rng);
  fill(b, rng);
  fill(c, rng);
  iovec wiov[3] = {{a.data(), a.size()}, {b.data(), b.size()}, {c.data(), c.size()}};
  run(reactor, *ioq, io(nvme_cmd_write, nsid, 200, 8), DataDirection::host_to_controller, wiov, 3, "write 3 iovecs");
  std::vector<std::uint8_t> r1(block * 5), r2(block * 3);
  iovec riov[2] = {{r1.data(), r1.size()}, {r2.data(), r2.size()}};
  run(reactor, *ioq, io(nvme_cmd_read, nsid, 200, 8), DataDirection::controller_to_host, riov, 2, "read 2 iovecs");
  std::vector<std::uint8_t> written(a);
  written.insert(written.end(), b.begin(), b.end());
  written.insert(written.end(), c.begin(), c.end());
  std::vector<std::uint8_t> read(r1);
  read.insert(read.end(), r2.begin(), r2.end());
  if (read != written) die("multi-buffer read back differs");
  step("8 blocks written from 3 buffers and read back into 2");

  // 4. Several commands in flight at once.
  constexpr int kInFlight = 16;
  std::vector<std::vector<std::uint8_t>> bufs(kInFlight, std::vector<std::uint8_t>(block * 4));
  std::vector<HostRequest> reqs(kInFlight);
  std::vector<iovec> iovs(kInFlight);
  int done = 0;
  for (int i = 0; i < kInFlight; ++i) {
    fill(bufs[i], rng);
    iovs[i] = {bufs[i].data(), bufs[i].size()};
    reqs[i].sqe = io(nvme_cmd_write, nsid, 1000 + 4 * i, 4);
    reqs[i].direction = DataDirection::host_to_controller;
    reqs[i].iov = &iovs[i];
    reqs[i].iovcnt = 1;
    reqs[i].context = &done;
    reqs[i].on_complete = [](HostRequest& r) {
      if (!r.status().ok()) die("concurrent write: " + r.status().to_string());
      ++*static_cast<int*>(r.context);
    };
    if (!ioq->submit(reqs[i])) die("concurrent write submit refused");
  }
  while (done < kInFlight) reactor.run_once(std::chrono::milliseconds(100));
  for (int i = 0; i < kInFlight; ++i) {
    std::vector<std::uint8_t> check(block * 4);
    run_one(reactor, *ioq, io(nvme_cmd_read, nsid, 1000 + 4 * i, 4), DataDirection::controller_to_host, check.data(),
            check.size(), "read back concurrent write");
    if (check != bufs[i]) die("concurrent write " + std::to_string(i) + " read back differs");
  }
  step(std::to_string(kInFlight) + " concurrent writes read back");

  ioq->close();
  run_one(reactor, *admin, property(true, NVME_REG_CC, false, cc | NVME_CC_SHN_NORMAL << NVME_CC_SHN_SHIFT),
          DataDirection::none, nullptr, 0, "Property Set CC shutdown");
  admin->close();
  ioq.reset();
  admin.reset();
  // Let the reactor return the cancelled polls of the queues' event channels (their watches free themselves).
  for (int i = 0; i < 5; ++i) reactor.run_once(std::chrono::milliseconds(10));
  step("PASS");
  return 0;
}
