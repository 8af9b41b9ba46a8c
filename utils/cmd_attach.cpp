// nvmf attach / detach / list-attached: remote namespaces served as local block devices by this process, through
// the kernel's ublk driver (/dev/ublkbN) or, where it has none, its NBD driver (/dev/nbdN) (docs/attach.md).
// attach checks for the drivers before it connects, so a machine without them gets a clear error at once.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <vector>
#include <nlohmann/json.hpp>

#include "initiator/attach/attach_registry.hpp"
#include "initiator/attach/nbd_device.hpp"
#include "initiator/attach/nbd_netlink.hpp"
#include "initiator/attach/ublk_control.hpp"
#include "initiator/attach/ublk_device.hpp"
#include "utils/cli_common.hpp"
#include "utils/commands.hpp"

namespace nvmf::cli {

namespace {
struct AttachArgs {
  ConnectArgs connect;
  std::vector<std::uint32_t> nsids;
  std::uint32_t max_io_kib = 512;
  bool daemon = false;
  std::string recover;  ///< A device whose serving process died, to resume
  bool nbd = false;     ///< Serve through NBD (chosen by itself where ublk is missing)
};

volatile std::sig_atomic_t g_stop = 0;
void on_stop_signal(int) { g_stop = 1; }

std::unique_ptr<initiator::ublk::ControlDevice> open_control_or_exit() {
  std::string error;
  auto control = initiator::ublk::ControlDevice::open(&error);
  if (!control) fail(error);
  return control;
}

/// --daemon: fork before any thread or connection exists; the child reports "device path" or nothing through a
/// pipe once the device is up (its errors go to the shared stderr). Returns in the child only.
void daemonize_or_exit() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0) fail(std::string("pipe: ") + std::strerror(errno));
  pid_t pid = fork();
  if (pid < 0) fail(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    close(fds[0]);
    setsid();
    // The write end stays in fd 3 for serve() to report on.
    if (dup2(fds[1], 3) < 0) _exit(1);
    close(fds[1]);
    return;
  }
  close(fds[1]);
  char line[256] = {};
  ssize_t n = read(fds[0], line, sizeof line - 1);
  close(fds[0]);
  if (n > 0) {
    std::fputs(line, stdout);
    std::fflush(stdout);
    std::exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  std::exit(WIFEXITED(status) && WEXITSTATUS(status) ? WEXITSTATUS(status) : 1);
}

/// One namespace served: its device (ublk or NBD) and its registry entry.
struct Served {
  std::unique_ptr<initiator::ublk::UblkDevice> ublk;
  std::unique_ptr<initiator::nbd::NbdDevice> nbd;
  initiator::attach::AttachedDevice entry;
  bool live() const { return ublk ? ublk->live() : nbd->live(); }
  void stop() {
    if (ublk) ublk->stop();
    if (nbd) nbd->stop();
    initiator::attach::forget(entry.device);
  }
};

void serve(AttachArgs& a) {
  std::unique_ptr<initiator::ublk::ControlDevice> control;
  std::unique_ptr<initiator::nbd::Netlink> netlink;
  std::string error;
  if (a.nbd) {
    netlink = std::make_unique<initiator::nbd::Netlink>();
    if (!netlink->open(&error)) fail(error);
  } else {
    control = open_control_or_exit();
  }
  // Each namespace gets -i queues of its own: ask the controller for all of them.
  const std::uint16_t per_device = a.connect.options.nr_io_queues;
  const std::size_t count = std::max<std::size_t>(a.nsids.size(), 1);
  a.connect.options.nr_io_queues = static_cast<std::uint16_t>(per_device * count);
  auto ctrl = connect_or_exit(a.connect);
  if (ctrl->namespaces().empty()) fail("the subsystem has no active namespace");
  std::vector<std::uint32_t> nsids = a.nsids;
  if (nsids.empty()) nsids.push_back(ctrl->namespaces().front().nsid);
  if (!a.recover.empty() && nsids.size() > 1) fail("--recover resumes one device: give one -N");

  initiator::ublk::AttachOptions options;
  options.queues = std::min<std::uint16_t>(per_device, static_cast<std::uint16_t>(ctrl->io_queues_granted() / count));
  options.queue_depth = static_cast<std::uint16_t>(a.connect.options.io_queue_size - 1);
  options.max_io_bytes = a.max_io_kib * 1024;
  std::vector<Served> served;
  served.reserve(nsids.size());
  for (std::uint32_t nsid : nsids) {
    Served one;
    if (netlink) {
      one.nbd = initiator::nbd::NbdDevice::create(*netlink, *ctrl, nsid, options.queues, options.queue_depth,
                                                  options.max_io_bytes, &error);
      if (!one.nbd) fail("cannot make the NBD device for namespace " + std::to_string(nsid) + ": " + error);
    } else if (!a.recover.empty()) {
      auto id = initiator::attach::parse_ublk_device(a.recover);
      if (!id) fail("--recover: '" + a.recover + "' is not a ublk block device (/dev/ublkbN)");
      one.ublk = initiator::ublk::UblkDevice::recover(*control, *ctrl, *id, nsid, &error);
      if (!one.ublk) fail("cannot resume " + a.recover + ": " + error);
    } else {
      one.ublk = initiator::ublk::UblkDevice::create(*control, *ctrl, nsid, options, &error);
      if (!one.ublk) fail("cannot make the block device for namespace " + std::to_string(nsid) + ": " + error);
    }
    auto& entry = one.entry;
    entry.device = one.ublk ? one.ublk->block_path() : one.nbd->block_path();
    entry.dev_id = one.ublk ? one.ublk->id() : one.nbd->index();
    entry.kind = one.ublk ? "ublk" : "nbd";
    entry.pid = getpid();
    entry.transport = a.connect.options.transport;
    entry.traddr = a.connect.options.traddr;
    entry.trsvcid = a.connect.options.trsvcid;
    entry.subnqn = a.connect.options.subnqn;
    entry.nsid = nsid;
    if (!initiator::attach::record(entry, &error)) std::fprintf(stderr, "nvmf: warning: %s\n", error.c_str());
    served.push_back(std::move(one));
  }

  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  std::string lines;
  for (const auto& one : served) lines += one.entry.device + "\n";
  if (a.daemon) {
    if (write(3, lines.data(), lines.size()) < 0) {}
    close(3);
    int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null_fd >= 0) {
      dup2(null_fd, 0);
      dup2(null_fd, 1);
      dup2(null_fd, 2);
      close(null_fd);
    }
  } else {
    std::fputs(lines.c_str(), stdout);
    std::fflush(stdout);
  }

  // The admin queue (keep-alive, reconnect) lives here; the queues serve on their own threads. A device ends
  // when someone else stopped it (`nvmf detach`); all end on SIGINT/SIGTERM, and the process with the last one.
  auto next_check = std::chrono::steady_clock::now();
  std::size_t remaining = served.size();
  while (!g_stop && remaining > 0) {
    ctrl->poll(std::chrono::milliseconds(100));
    if (std::chrono::steady_clock::now() < next_check) continue;
    for (auto& one : served) {
      if ((one.ublk || one.nbd) && !one.live()) {
        one.stop();
        one.ublk.reset();
        one.nbd.reset();
        --remaining;
      }
    }
    next_check = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
  }
  for (auto& one : served)
    if (one.ublk || one.nbd) one.stop();
  served.clear();
  ctrl->shutdown();
}
}  // namespace

void add_attach_commands(CLI::App& app) {
  auto a = std::make_shared<AttachArgs>();
  CLI::App* cmd = app.add_subcommand("attach", "Serve remote namespaces as local block devices (/dev/ublkbN, or /dev/nbdN)");
  add_connect_options(cmd, a->connect, false);
  cmd->add_option("-N,--namespace-id", a->nsids,
                  "Namespace (default: the first active one); repeat it to serve several, one device each");
  cmd->add_option("--max-io-size", a->max_io_kib, "Largest request in KiB (memory per queue entry)")
      ->check(CLI::Range(4, 4096))
      ->capture_default_str();
  cmd->add_flag("--daemon", a->daemon, "Print the device, then keep serving it in the background");
  cmd->add_flag("--nbd", a->nbd, "Serve /dev/nbdN through the kernel's NBD driver (the default where ublk is missing)");
  cmd->add_option("--recover", a->recover,
                  "Resume DEVICE (/dev/ublkbN) whose serving process died, without recreating it (ublk user "
                  "recovery); give the connection options of the first attach");
  cmd->callback([a] {
    if (a->connect.options.io_queue_size < 2) fail("--queue-size must be at least 2");
    // Refuse early and clearly when neither ublk nor NBD is there or the process lacks privilege: before any
    // connection. Without ublk (Debian's 6.1) NBD serves instead.
    if (!a->nbd && !initiator::ublk::ControlDevice::present() && a->recover.empty()) {
      std::string ublk_error, nbd_error;
      initiator::ublk::ControlDevice::open(&ublk_error);
      initiator::nbd::Netlink probe;
      if (!probe.open(&nbd_error)) fail("neither ublk nor NBD is available: " + ublk_error + "; " + nbd_error);
      a->nbd = true;
    }
    if (a->nbd) {
      if (!a->recover.empty()) fail("--recover is for ublk devices; NBD has no user recovery");
      initiator::nbd::Netlink probe;
      std::string nbd_error;
      if (!probe.open(&nbd_error)) fail(nbd_error);
    } else {
      open_control_or_exit();
    }
    if (a->daemon) daemonize_or_exit();
    serve(*a);
  });

  auto device = std::make_shared<std::string>();
  CLI::App* detach = app.add_subcommand("detach", "Remove a device made by nvmf attach (its server then exits)");
  detach->add_option("device", *device, "/dev/ublkbN or /dev/nbdN")->required();
  detach->callback([device] {
    if (auto index = initiator::attach::parse_nbd_device(*device)) {
      initiator::nbd::Netlink netlink;
      std::string error;
      if (!netlink.open(&error) || !netlink.disconnect(*index, &error)) fail(error);
      initiator::attach::forget("/dev/nbd" + std::to_string(*index));
      return;
    }
    auto id = initiator::attach::parse_ublk_device(*device);
    if (!id) fail("'" + *device + "' is not a device nvmf attach makes (/dev/ublkbN or /dev/nbdN)");
    auto control = open_control_or_exit();
    int rc = control->stop_device(*id);
    if (rc < 0) fail(initiator::ublk::ControlDevice::explain("STOP_DEV", rc));
    rc = control->delete_device(*id);
    if (rc < 0 && rc != -ENODEV) fail(initiator::ublk::ControlDevice::explain("DEL_DEV", rc));
    initiator::attach::forget("/dev/ublkb" + std::to_string(*id));
  });

  auto format = std::make_shared<std::string>("normal");
  CLI::App* list = app.add_subcommand("list-attached", "Devices served by nvmf attach processes");
  add_output_option(list, *format);
  list->callback([format] {
    auto devices = initiator::attach::list_attached();
    if (*format == "json") {
      nlohmann::ordered_json j = nlohmann::ordered_json::array();
      for (const auto& d : devices)
        j.push_back({{"device", d.device}, {"kind", d.kind}, {"pid", d.pid}, {"transport", d.transport},
                     {"traddr", d.traddr}, {"trsvcid", d.trsvcid}, {"subnqn", d.subnqn}, {"nsid", d.nsid}});
      print_json(nlohmann::ordered_json{{"attached", j}});
      return;
    }
    for (const auto& d : devices)
      std::printf("%-14s pid %-7d %s %s:%s %s nsid %u\n", d.device.c_str(), d.pid, d.transport.c_str(),
                  d.traddr.c_str(), d.trsvcid.c_str(), d.subnqn.c_str(), d.nsid);
  });
}

}  // namespace nvmf::cli
