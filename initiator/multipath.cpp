#include "initiator/multipath.hpp"

#include <algorithm>
#include <cstring>
#include <thread>

namespace nvmf::initiator {

namespace {
bool is_ana_notice(std::uint32_t dw0) {
  return (dw0 & 0x7) == NVME_AER_NOTICE && ((dw0 >> 8) & 0xFF) == NVME_AER_NOTICE_ANA;
}

/// What the Linux host matches paths on (nvme_ns_ids_equal): UUID (from the Namespace Identification Descriptor
/// list, CNS 03h), NGUID and EUI-64 together; empty when the namespace has none of them.
std::vector<std::uint8_t> identity_of(Controller& c, std::uint32_t nsid, Error* error) {
  nvme_id_ns id{};
  if (nvme::Status s = c.identify_namespace(nsid, &id); !s.ok()) {
    *error = step_failed("Identify Namespace", s);
    return {};
  }
  std::vector<std::uint8_t> out(id.nguid, id.nguid + sizeof id.nguid);
  out.insert(out.end(), id.eui64, id.eui64 + sizeof id.eui64);
  std::uint8_t uuid[16] = {};
  std::vector<std::uint8_t> list(NVME_IDENTIFY_DATA_SIZE);
  nvme::Sqe sqe{};
  sqe.opcode = nvme_admin_identify;
  sqe.nsid = nsid;
  sqe.cdw10 = NVME_IDENTIFY_CNS_NS_DESC_LIST;
  // A controller without the list (before NVMe 1.3) answers Invalid Field: then NGUID and EUI-64 alone.
  const auto length = static_cast<std::uint32_t>(list.size());
  if (c.admin_command(sqe, list.data(), length, fabric::DataDirection::controller_to_host).ok()) {
    for (std::size_t off = 0; off + 4 <= list.size();) {
      const std::uint8_t type = list[off], length = list[off + 1];
      if (type == 0 || off + 4 + length > list.size()) break;
      if (type == NVME_NIDT_UUID && length == sizeof uuid) std::memcpy(uuid, &list[off + 4], sizeof uuid);
      off += 4 + std::size_t(length);
    }
  }
  out.insert(out.end(), uuid, uuid + sizeof uuid);
  if (std::all_of(out.begin(), out.end(), [](std::uint8_t b) { return b == 0; })) out.clear();
  return out;
}
}  // namespace

MultipathSet::~MultipathSet() {
  for (auto& p : paths_) p.queue.reset();  // I/O queues go before their controller
}

std::unique_ptr<MultipathSet> MultipathSet::connect(const std::vector<ControllerOptions>& options, Error* error) {
  auto fail = [&](std::size_t i, const std::string& what) {
    if (error) error->message = "path " + std::to_string(i + 1) + " (" + options[i].traddr + ":" +
                                options[i].trsvcid + "): " + what;
    return nullptr;
  };
  if (options.empty()) {
    if (error) error->message = "no path given";
    return nullptr;
  }
  std::unique_ptr<MultipathSet> set(new MultipathSet());
  for (std::size_t i = 0; i < options.size(); ++i) {
    Error e;
    Path path;
    ControllerOptions o = options[i];
    // A command caught by a lost connection fails at once (host path error, no DNR) so it moves to another
    // path, as the Linux host's nvme_failover_req, unless the caller chose a fast-io-fail-tmo.
    if (o.fast_io_fail_timeout.count() < 0) o.fast_io_fail_timeout = std::chrono::milliseconds(0);
    path.controller = Controller::connect(o, &e);
    if (!path.controller) return fail(i, e.to_string());
    path.queue = path.controller->create_io_queue(path.controller->reactor(), &e);
    if (!path.queue) return fail(i, e.to_string());
    // One thread drives both: a queue waiting for its controller runs the controller's maintenance.
    path.queue->set_admin_hook([c = path.controller.get()] { c->maintain(); });
    set->paths_.push_back(std::move(path));
    Path& added = set->paths_.back();
    const std::string subnqn(added.controller->id().subnqn,
                             strnlen(added.controller->id().subnqn, sizeof added.controller->id().subnqn));
    const auto& first = set->paths_.front().controller->id();
    if (subnqn != std::string(first.subnqn, strnlen(first.subnqn, sizeof first.subnqn)))
      return fail(i, "leads to subsystem " + subnqn + ", not the first path's");
    // Same NSID, same identifier on every path, or it is not the same namespace.
    for (const auto& ns : added.controller->namespaces()) {
      if (i == 0 || !set->paths_.front().controller->find_namespace(ns.nsid)) continue;
      Error e1, e2;
      const auto here = identity_of(*added.controller, ns.nsid, &e1);
      const auto there = identity_of(*set->paths_.front().controller, ns.nsid, &e2);
      if (e1 || e2) return fail(e1 ? i : 0, (e1 ? e1 : e2).to_string());
      if (here.empty() || here != there)
        return fail(i, "namespace " + std::to_string(ns.nsid) +
                           " has other identifiers (UUID/NGUID/EUI-64) than on path 1");
    }
    if (Error a = set->read_ana_log(added)) return fail(i, a.to_string());
  }
  for (const auto& ns : set->paths_.front().controller->namespaces()) set->nsids_.push_back(ns.nsid);
  std::sort(set->nsids_.begin(), set->nsids_.end());
  for (auto& p : set->paths_) {
    p.board = std::make_unique<MultipathQueue::AnaBoard[]>(set->nsids_.size());
    set->publish_ana(p);
  }
  // Only now, with the vector settled: the callbacks find their path by index.
  for (std::size_t i = 0; i < set->paths_.size(); ++i) {
    MultipathSet* self = set.get();
    set->paths_[i].controller->set_event_callback([self, i](const ControllerEvent& ev) {
      if (ev.type == ControllerEvent::Type::other_aen && is_ana_notice(ev.aen_dw0)) self->paths_[i].ana_due = true;
      if (ev.type == ControllerEvent::Type::reconnected) self->paths_[i].ana_due = true;
    });
  }
  return set;
}

Error MultipathSet::read_ana_log(Path& path) {
  path.ana_due = false;
  path.ana.clear();
  path.ana_read_at = std::chrono::steady_clock::now();
  const nvme_id_ctrl& id = path.controller->id();
  if (!(id.cmic & NVME_CTRL_CMIC_MULTI_ANA_REPORTING)) return {};  // no ANA: every path optimized
  // The size the Linux host reads: header, NANAGRPID descriptors and MNAN NSIDs (nvme_mpath_init_identify).
  const std::size_t size = sizeof(nvme_ana_log) + std::size_t(id.nanagrpid) * sizeof(nvme_ana_group_desc) +
                           std::size_t(id.mnan ? id.mnan : id.nn) * sizeof(std::uint32_t);
  // A controller claiming absurd counts costs at most 1 MiB (a real log: 16 + 32 per group + 4 per namespace).
  std::vector<std::uint8_t> log((std::min<std::size_t>(size, 1u << 20) + 3) & ~std::size_t(3));
  nvme::Status s = path.controller->get_log_page(NVME_LOG_LID_ANA, NVME_NSID_ALL, log.data(),
                                                 static_cast<std::uint32_t>(log.size()));
  if (!s.ok()) return step_failed("Get Log Page ANA", s);
  nvme_ana_log header;
  std::memcpy(&header, log.data(), sizeof header);
  std::size_t at = sizeof header;
  for (std::uint16_t g = 0; g < header.ngrps; ++g) {
    nvme_ana_group_desc desc;
    if (at + sizeof desc > log.size()) return Error{{}, "ANA log: descriptor " + std::to_string(g) + " past the end"};
    std::memcpy(&desc, log.data() + at, sizeof desc);
    at += sizeof desc;
    if (at + std::size_t(desc.nnsids) * 4 > log.size())
      return Error{{}, "ANA log: NSID list of group " + std::to_string(desc.grpid) + " past the end"};
    for (std::uint32_t n = 0; n < desc.nnsids; ++n) {
      std::uint32_t nsid;
      std::memcpy(&nsid, log.data() + at + 4 * n, 4);
      path.ana[nsid] = desc.state;
    }
    at += std::size_t(desc.nnsids) * 4;
  }
  return {};
}

void MultipathSet::publish_ana(Path& path) {
  if (!path.board) return;  // still connecting: published once every path is in
  for (std::size_t k = 0; k < nsids_.size(); ++k) {
    auto it = path.ana.find(nsids_[k]);
    path.board[k].store(it == path.ana.end() ? std::uint8_t(NVME_ANA_STATE_OPTIMIZED) : it->second,
                        std::memory_order_relaxed);
  }
}

bool MultipathSet::has_unusable_namespace(const Path& p) const {
  if (std::any_of(p.ana.begin(), p.ana.end(), [](const auto& e) { return ana_rank(e.second) == 0; })) return true;
  for (std::size_t k = 0; k < nsids_.size(); ++k)
    if (ana_rank(p.board[k].load(std::memory_order_relaxed)) == 0) return true;
  return false;
}

std::unique_ptr<MultipathQueue> MultipathSet::create_queue(fabric::Reactor& reactor, std::uint16_t depth,
                                                           PathPolicy policy, Error* error) {
  std::vector<MultipathQueue::PathQueue> queues;
  for (std::size_t i = 0; i < paths_.size(); ++i) {
    Path& p = paths_[i];
    MultipathQueue::PathQueue q;
    Error e;
    q.queue = p.controller->create_io_queue(reactor, &e, depth);
    if (!q.queue) {
      if (error) *error = Error{e.status, "path " + std::to_string(i + 1) + ": " + e.to_string()};
      return nullptr;
    }
    q.ana = p.board.get();
    for (std::uint32_t nsid : nsids_) {
      const Namespace* ns = p.controller->find_namespace(nsid);
      // A namespace this path does not show (masked, not yet rescanned) is never sent through it.
      if (!ns) {
        Namespace gone;
        gone.nsid = nsid;
        q.namespaces.push_back(gone);  // block_size 0: the queue never chooses this path for it
      } else {
        q.namespaces.push_back(*ns);
      }
    }
    queues.push_back(std::move(q));
  }
  // As many slots as the smallest path queue holds: any path can take every command outstanding.
  std::uint32_t slots = queues.front().queue->depth();
  for (const auto& q : queues) slots = std::min<std::uint32_t>(slots, q.queue->depth());
  return std::make_unique<MultipathQueue>(std::move(queues), nsids_, slots, policy);
}

const Namespace* MultipathSet::find_namespace(std::uint32_t nsid) const {
  return paths_.front().controller->find_namespace(nsid);
}

std::uint8_t MultipathSet::ana_state(std::size_t path, std::uint32_t nsid) const {
  const auto& ana = paths_.at(path).ana;
  auto it = ana.find(nsid);
  return it == ana.end() ? std::uint8_t(NVME_ANA_STATE_OPTIMIZED) : it->second;
}

void MultipathSet::poll() {
  constexpr auto kUnusableRecheck = std::chrono::seconds(1);
  const auto now = std::chrono::steady_clock::now();
  for (auto& p : paths_) {
    p.controller->poll(std::chrono::milliseconds(0));
    // A queue reconnects itself from its own maintenance: run it even while no command goes to this path.
    if (!p.queue->connected()) p.queue->process_completions(std::chrono::milliseconds(0));
    if (has_unusable_namespace(p) && now - p.ana_read_at >= kUnusableRecheck) p.ana_due = true;
    if (p.ana_due && p.controller->alive() && !read_ana_log(p)) publish_ana(p);  // a failure leaves it due
  }
}

std::size_t MultipathSet::choose(std::uint32_t nsid, const std::vector<bool>& tried) {
  std::vector<PathCandidate> candidates(paths_.size());
  for (std::size_t i = 0; i < paths_.size(); ++i) {
    const Path& p = paths_[i];
    if (tried[i] || !p.queue->connected() || !p.controller->find_namespace(nsid)) continue;
    candidates[i].rank = ana_rank(ana_state(i, nsid));
    candidates[i].outstanding = p.queue->outstanding();
  }
  return chooser_.choose(candidates);
}

template <typename Run>
nvme::Status MultipathSet::run(std::uint32_t nsid, Run&& run_on) {
  if (!find_namespace(nsid)) return nvme::Status::generic(NVME_SC_INVALID_NS);
  std::vector<bool> tried(paths_.size(), false);
  // With no usable path, the answer a path would give: transport / path error, retryable.
  nvme::Status last = nvme::Status::make(NVME_SCT_PATH, NVME_SC_ANA_INACCESSIBLE);
  poll();
  for (;;) {
    std::size_t i = choose(nsid, tried);
    // No path usable now but one reconnecting: wait for it (the Linux host queues I/O on the multipath node
    // while a path may come back), until it is back or given up (ctrl-loss-tmo).
    while (i == paths_.size() &&
           std::any_of(paths_.begin(), paths_.end(), [](const Path& p) {
             return p.controller->state() == Controller::State::reconnecting || p.queue->reconnecting();
           })) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      poll();
      std::fill(tried.begin(), tried.end(), false);  // a path that failed the command may be back
      i = choose(nsid, tried);
    }
    if (i == paths_.size()) return last;
    Path& p = paths_[i];
    last = run_on(*p.queue, *p.controller->find_namespace(nsid));
    // A path-related failure (NVMe Base 2.0, Path Related Status: may be retried on another path) unless DNR
    // forbids retrying; a path the host lost never stops it (retry_on_other_path).
    if (!retry_on_other_path(last)) {
      last_path_ = i;
      return last;
    }
    tried[i] = true;
    p.ana_due = true;
    // The status says what the path is now, before the log is read again.
    if (last.sc() == NVME_SC_ANA_INACCESSIBLE) p.ana[nsid] = NVME_ANA_STATE_INACCESSIBLE;
    if (last.sc() == NVME_SC_ANA_PERSISTENT_LOSS) p.ana[nsid] = NVME_ANA_STATE_PERSISTENT_LOSS;
    if (last.sc() == NVME_SC_ANA_TRANSITION) p.ana[nsid] = NVME_ANA_STATE_CHANGE;
    publish_ana(p);
    ++retries_;
  }
}

nvme::Status MultipathSet::read_sync(std::uint32_t nsid, std::uint64_t slba, std::uint32_t nlb, void* buf) {
  return run(nsid, [&](IoQueue& q, const Namespace& ns) { return q.read_sync(ns, slba, nlb, buf); });
}

nvme::Status MultipathSet::write_sync(std::uint32_t nsid, std::uint64_t slba, std::uint32_t nlb, const void* buf,
                                      bool fua) {
  return run(nsid, [&](IoQueue& q, const Namespace& ns) { return q.write_sync(ns, slba, nlb, buf, fua); });
}

}  // namespace nvmf::initiator
