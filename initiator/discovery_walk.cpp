#include "initiator/discovery_walk.hpp"

#include <deque>
#include <set>
#include <tuple>

#include "fabric/log.hpp"
#include "initiator/transport_factory.hpp"
#include "nvme/fabrics.hpp"

namespace nvmf::initiator {

namespace {
using Key = std::tuple<std::uint8_t, std::string, std::string, std::string>;
Key key_of(const DiscoveryEntry& e) { return {e.trtype, e.traddr, e.trsvcid, e.subnqn}; }

std::string trimmed_field(const char* p, std::size_t n) {
  std::size_t len = strnlen(p, n);
  while (len > 0 && p[len - 1] == ' ') --len;
  return std::string(p, len);
}

struct Target {
  ControllerOptions options;
  unsigned depth;
};
}  // namespace

std::string transport_name(std::uint8_t trtype) {
  switch (trtype) {
    case NVMF_TRTYPE_TCP: return "tcp";
    case NVMF_TRTYPE_RDMA: return "rdma";
    default: return {};
  }
}

std::vector<DiscoveryEntry> DiscoveryWalk::subsystems() const {
  std::vector<DiscoveryEntry> out;
  for (const auto& e : entries)
    if (e.subtype == NVME_NQN_NVME) out.push_back(e);
  return out;
}

Error walk_discovery(const ControllerOptions& options, DiscoveryWalk* out, unsigned max_depth) {
  std::set<std::string> read;  // "trtype:traddr:trsvcid" of discovery controllers already read
  std::set<Key> seen;
  std::deque<Target> queue{Target{options, 0}};
  bool first = true;
  while (!queue.empty()) {
    Target t = std::move(queue.front());
    queue.pop_front();
    if (t.options.trsvcid.empty()) t.options.trsvcid = std::to_string(nvme::kDiscoveryPort);
    const std::string where = t.options.transport + ":" + t.options.traddr + ":" + t.options.trsvcid;
    if (!read.insert(where).second) continue;  // a referral loop, or two referrals to one controller
    DiscoveryLog log;
    if (Error e = discover(t.options, &log)) {
      if (first) return e;
      out->errors.push_back("referral " + where + ": " + e.to_string());
      NVMF_LOG(warn, "referral %s: %s", where.c_str(), e.to_string().c_str());
      continue;
    }
    first = false;
    out->visited.push_back(where);
    for (const auto& entry : log.entries) {
      if (!seen.insert(key_of(entry)).second) continue;
      out->entries.push_back(entry);
      if (entry.subtype != NVME_NQN_DISC || t.depth >= max_depth) continue;
      const std::string transport = transport_name(entry.trtype);
      if (transport.empty() || !transport_supported(transport)) {
        out->errors.push_back("referral " + entry.traddr + ":" + entry.trsvcid + ": transport " +
                              trtype_string(entry.trtype) + " is not supported by this build");
        continue;
      }
      Target next{t.options, t.depth + 1};
      next.options.transport = transport;
      next.options.traddr = entry.traddr;
      next.options.trsvcid = entry.trsvcid;
      // A referral names a discovery subsystem; the well-known NQN when it carries none.
      next.options.subnqn = entry.subnqn.empty() ? nvme::kDiscoveryNqn : entry.subnqn;
      queue.push_back(std::move(next));
    }
  }
  return {};
}

std::vector<AttachReport> attach_all(const std::vector<DiscoveryEntry>& entries, const ControllerOptions& base) {
  std::vector<AttachReport> reports;
  for (const auto& entry : entries) {
    if (entry.subtype != NVME_NQN_NVME) continue;
    AttachReport report;
    report.entry = entry;
    const std::string transport = transport_name(entry.trtype);
    if (transport.empty() || !transport_supported(transport)) {
      report.error = Error{kHostPathError, "transport " + trtype_string(entry.trtype) + " is not supported by this build"};
      reports.push_back(std::move(report));
      continue;
    }
    ControllerOptions o = base;
    o.transport = transport;
    o.traddr = entry.traddr;
    o.trsvcid = entry.trsvcid;
    o.subnqn = entry.subnqn;
    o.nr_io_queues = std::max<std::uint16_t>(o.nr_io_queues, 1);
    o.ctrl_loss_timeout = std::chrono::milliseconds(0);  // a one-shot attach does not wait for reconnects
    auto ctrl = Controller::connect(o, &report.error);
    if (ctrl) {
      Error qerr;
      auto queue = ctrl->create_io_queue(ctrl->reactor(), &qerr);
      if (!queue) {
        report.error = qerr;
      } else {
        report.cntlid = ctrl->cntlid();
        report.model = trimmed_field(ctrl->id().mn, sizeof ctrl->id().mn);
        report.serial = trimmed_field(ctrl->id().sn, sizeof ctrl->id().sn);
        report.io_queues = ctrl->io_queues_granted();
        report.namespaces = ctrl->namespaces();
      }
      queue.reset();
      if (Error s = ctrl->shutdown(); s && !report.error) report.error = s;
    }
    reports.push_back(std::move(report));
  }
  return reports;
}

}  // namespace nvmf::initiator
