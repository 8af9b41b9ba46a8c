// nvmf resv-register, resv-acquire, resv-release, resv-report: the NVMe reservation commands through one I/O
// queue, shaped like nvme-cli 2.3's. Where nvme-cli's short options clash with the connection options, they are
// long-only here (--nrkey, --rtype, --racqa, --rrela, --iekey) or respelled (-N/--namespace-id for nvme-cli's -n).
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "initiator/io_queue.hpp"
#include "utils/cli_common.hpp"
#include "utils/commands.hpp"

namespace nvmf::cli {

namespace {
struct ResvArgs {
  ConnectArgs connect;
  std::uint32_t nsid = 0;
  std::uint64_t crkey = 0, nrkey = 0, prkey = 0;
  std::uint8_t action = 0, rtype = 0, cptpl = 0;
  bool iekey = false;
  std::uint32_t numd = 0;
  bool eds = false;
};

// A connected controller, one I/O queue and the namespace the command names.
struct ResvSession {
  std::unique_ptr<initiator::Controller> ctrl;
  std::unique_ptr<initiator::IoQueue> queue;
  std::uint32_t nsid = 0;

  explicit ResvSession(ResvArgs& a) {
    a.connect.options.nr_io_queues = 1;
    ctrl = connect_or_exit(a.connect);
    if (ctrl->namespaces().empty()) fail("the subsystem has no active namespace");
    const initiator::Namespace* ns = a.nsid ? ctrl->find_namespace(a.nsid) : &ctrl->namespaces().front();
    if (!ns) fail("namespace " + std::to_string(a.nsid) + " is not active");
    nsid = ns->nsid;
    initiator::Error e;
    queue = ctrl->create_io_queue(ctrl->reactor(), &e);
    if (!queue) fail("I/O queue: " + e.to_string());
  }
  ~ResvSession() {
    queue.reset();
    if (ctrl) ctrl->shutdown();
  }

  /// Sends `opcode` with CDW10 and the reservation keys as its data; exits non-zero with the status on failure.
  void run(std::uint8_t opcode, std::uint32_t cdw10, std::uint64_t key1, std::uint64_t key2, const char* name) {
    nvme::Sqe sqe{};
    sqe.opcode = opcode;
    sqe.nsid = nsid;
    sqe.cdw10 = cdw10;
    std::uint64_t keys[2] = {key1, key2};
    const std::uint32_t length = opcode == nvme_cmd_resv_release ? 8 : 16;
    nvme::Status st = queue->command_sync(sqe, keys, length, fabric::DataDirection::host_to_controller);
    if (!st.ok()) fail(std::string(name) + ": " + st.to_string());
    std::fprintf(stderr, "%s: Success\n", name);
  }
};

void add_common(CLI::App* cmd, ResvArgs& a) {
  add_connect_options(cmd, a.connect, false);
  cmd->add_option("-N,--namespace-id", a.nsid, "Namespace (default: the first active one)");
}

void add_iekey(CLI::App* cmd, ResvArgs& a) {
  cmd->add_flag("--iekey", a.iekey, "Ignore the existing key (register: the current key is not checked)");
}

std::string hex(const std::uint8_t* bytes, std::size_t n) {
  std::string s;
  char b[3];
  for (std::size_t i = 0; i < n; ++i) std::snprintf(b, sizeof b, "%02x", bytes[i]), s += b;
  return s;
}

void print_report(const std::vector<std::uint8_t>& data, bool json) {
  nvme_resv_status status;
  std::memcpy(&status, data.data(), 24);
  const unsigned regctl = status.regctl[0] | status.regctl[1] << 8;
  const std::size_t shown = std::min<std::size_t>(regctl, (data.size() - 64) / 64);
  nlohmann::ordered_json j;
  j["gen"] = status.gen;
  j["rtype"] = status.rtype;
  j["regctl"] = regctl;
  j["ptpls"] = status.ptpls;
  j["regctlext"] = nlohmann::ordered_json::array();
  for (std::size_t i = 0; i < shown; ++i) {
    nvme_registered_ctrl_ext e;
    std::memcpy(&e, data.data() + 64 + i * 64, sizeof e);
    j["regctlext"].push_back({{"cntlid", e.cntlid}, {"rcsts", e.rcsts}, {"rkey", e.rkey}, {"hostid", hex(e.hostid, 16)}});
  }
  if (json) return print_json(j);
  std::printf("NVME Reservation status:\n\ngen       : %u\nrtype     : %u\nregctl    : %u\nptpls     : %u\n",
              status.gen, status.rtype, regctl, status.ptpls);
  for (std::size_t i = 0; i < shown; ++i) {
    const auto& e = j["regctlext"][i];
    std::printf("regctlext[%zu] :\n  cntlid     : %x\n  rcsts      : %x\n  rkey       : %llx\n  hostid     : %s\n", i,
                e["cntlid"].get<unsigned>(), e["rcsts"].get<unsigned>(),
                static_cast<unsigned long long>(e["rkey"].get<std::uint64_t>()), e["hostid"].get<std::string>().c_str());
  }
}
}  // namespace

void add_resv_commands(CLI::App& app) {
  {
    auto a = std::make_shared<ResvArgs>();
    CLI::App* cmd = app.add_subcommand("resv-register", "Reservation Register: register, unregister or replace a key");
    add_common(cmd, *a);
    cmd->add_option("-c,--crkey", a->crkey, "Current reservation key (unregister, replace)");
    cmd->add_option("--nrkey", a->nrkey, "New reservation key (register, replace)");
    cmd->add_option("-r,--rrega", a->action, "Action: 0 register, 1 unregister, 2 replace")->check(CLI::Range(0, 7));
    cmd->add_option("-p,--cptpl", a->cptpl, "Change persist through power loss: 0 no change, 2 clear, 3 set")
        ->check(CLI::Range(0, 3));
    add_iekey(cmd, *a);
    cmd->callback([a] {
      ResvSession s(*a);
      s.run(nvme_cmd_resv_register, a->action | (a->iekey ? 1u << 3 : 0) | std::uint32_t(a->cptpl) << 30, a->crkey,
            a->nrkey, "resv-register");
    });
  }
  {
    auto a = std::make_shared<ResvArgs>();
    CLI::App* cmd = app.add_subcommand("resv-acquire", "Reservation Acquire: acquire, preempt, preempt and abort");
    add_common(cmd, *a);
    cmd->add_option("-c,--crkey", a->crkey, "Current reservation key");
    cmd->add_option("-p,--prkey", a->prkey, "Preempt reservation key");
    cmd->add_option("--rtype", a->rtype, "Reservation type, 1-6")->check(CLI::Range(0, 255));
    cmd->add_option("--racqa", a->action, "Action: 0 acquire, 1 preempt, 2 preempt and abort")
        ->check(CLI::Range(0, 7));
    add_iekey(cmd, *a);
    cmd->callback([a] {
      ResvSession s(*a);
      s.run(nvme_cmd_resv_acquire, a->action | (a->iekey ? 1u << 3 : 0) | std::uint32_t(a->rtype) << 8, a->crkey,
            a->prkey, "resv-acquire");
    });
  }
  {
    auto a = std::make_shared<ResvArgs>();
    CLI::App* cmd = app.add_subcommand("resv-release", "Reservation Release: release or clear");
    add_common(cmd, *a);
    cmd->add_option("-c,--crkey", a->crkey, "Current reservation key");
    cmd->add_option("--rtype", a->rtype, "Reservation type held, 1-6")->check(CLI::Range(0, 255));
    cmd->add_option("--rrela", a->action, "Action: 0 release, 1 clear")->check(CLI::Range(0, 7));
    add_iekey(cmd, *a);
    cmd->callback([a] {
      ResvSession s(*a);
      s.run(nvme_cmd_resv_release, a->action | (a->iekey ? 1u << 3 : 0) | std::uint32_t(a->rtype) << 8, a->crkey, 0,
            "resv-release");
    });
  }
  {
    auto a = std::make_shared<ResvArgs>();
    CLI::App* cmd = app.add_subcommand("resv-report", "Reservation Report: the reservation and its registrants");
    add_common(cmd, *a);
    cmd->add_option("-d,--numd", a->numd, "Dwords to transfer, 0's based (default: 4 KiB)");
    cmd->add_flag("-e,--eds", a->eds, "Extended data structure (the only one for 128-bit host IDs, as on fabrics)");
    cmd->callback([a] {
      ResvSession s(*a);
      // As nvme-cli: 4 KiB unless asked otherwise, never less than the 16-byte header.
      const std::uint32_t numd = a->numd == 0 || a->numd >= 1024 ? 1023 : std::max<std::uint32_t>(a->numd, 3);
      std::vector<std::uint8_t> data((numd + 1) * 4, 0);
      nvme::Sqe sqe{};
      sqe.opcode = nvme_cmd_resv_report;
      sqe.nsid = s.nsid;
      sqe.cdw10 = numd;
      sqe.cdw11 = a->eds ? 1 : 0;
      nvme::Status st = s.queue->command_sync(sqe, data.data(), static_cast<std::uint32_t>(data.size()),
                                              fabric::DataDirection::controller_to_host);
      if (!st.ok()) fail("resv-report: " + st.to_string());
      if (!a->eds) fail("resv-report: only the extended data structure (-e) is decoded");
      print_report(data, a->connect.json());
    });
  }
}

}  // namespace nvmf::cli
