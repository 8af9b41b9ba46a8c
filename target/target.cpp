#include "target/target.hpp"

#include <chrono>
#include <stdexcept>
#include <thread>

#include "fabric/log.hpp"
#include "target/controller.hpp"
#include "target/tls_keys.hpp"
#include "target/transport_factory.hpp"

namespace nvmf::target {

Target::Target(TargetConfig config) : config_(std::move(config)) {
  config_.validate();
  log::set_level(config_.log_level);
  ControllerSettings settings;
  settings.limits = config_.limits;
  settings.max_io_queues = config_.max_io_queues;
  registry_ = std::make_shared<Registry>(settings);
  for (std::size_t s = 0; s < config_.subsystems.size(); ++s) {
    config_.subsystems[s] = resolve_defaults(config_.subsystems[s]);
    try {
      registry_->add_subsystem(make_subsystem(config_.subsystems[s]));
    } catch (const ConfigError& e) {
      throw e.renamed("subsystems[" + std::to_string(s) + "]." + e.field());
    }
  }
  for (const auto& r : config_.referrals) registry_->add_referral(Referral{r.portid, r.address});
  for (const auto& h : config_.hosts) registry_->set_host(h);
  tls_ = std::make_shared<fabric::tls::ServerContext>(make_psk_lookup(registry_));
}

Target::~Target() { stop(); }

void Target::bind_locked(Port port, bool implicit_discovery) {
  Listening l;
  l.implicit_discovery = implicit_discovery;
  l.factory = std::make_unique<SessionFactory>(registry_, port.portid);
  l.listener = listen_on(*reactors_, port.address, config_.limits, *l.factory, tls_);
  port.address = l.listener->address();
  NVMF_LOG(info, "listening on %s, port %u (%s)", port.address.to_string().c_str(), port.portid,
           !port.serves_nvm ? "discovery" : port.only.empty() ? "NVM subsystems and discovery" : "listed subsystems and discovery");
  l.port = port;
  registry_->add_port(port);
  listeners_.push_back(std::move(l));
}

void Target::start() {
  std::lock_guard lock(mutex_);
  if (started_) return;
  started_ = true;
  fabric::ReactorOptions options;
  options.busy_poll = config_.busy_poll;
  options.adaptive_poll = std::chrono::microseconds(config_.adaptive_poll_us);
  options.buffer_size = config_.limits.max_io_size;
  reactors_ = std::make_unique<fabric::ReactorGroup>(config_.cores, options);
  reactors_->start();

  std::vector<Port> wanted;
  std::uint16_t portid = 1;
  for (std::size_t i = 0; i < config_.listeners.size(); ++i) {
    Port p{portid++, config_.listeners[i], true, {}};
    if (auto a = config_.listener_ana_states.find(i); a != config_.listener_ana_states.end())
      for (const auto& [grpid, state] : a->second) registry_->ana().set(p.portid, grpid, state);
    if (auto it = config_.listener_subsystems.find(i); it != config_.listener_subsystems.end()) {
      p.only = it->second;
      p.serves_nvm = !p.only.empty();  // an nvmetcli port without subsystems serves discovery only
    }
    wanted.push_back(std::move(p));
  }
  if (config_.discovery_port != 0) {
    const std::string port = std::to_string(config_.discovery_port);
    for (const auto& l : config_.listeners) {
      bool taken = false;
      for (const auto& w : wanted)
        taken |= w.address.trtype == l.trtype && w.address.traddr == l.traddr && w.address.trsvcid == port;
      if (taken) continue;
      fabric::ListenAddress d = l;
      d.trsvcid = port;
      wanted.push_back(Port{portid++, d, false, {}});
    }
  }
  try {
    for (std::size_t i = 0; i < wanted.size(); ++i) bind_locked(std::move(wanted[i]), i >= config_.listeners.size());
  } catch (...) {
    mutex_.unlock();
    try {
      stop();
    } catch (...) {
    }
    mutex_.lock();
    throw;
  }
}

void Target::stop() {
  std::lock_guard lock(mutex_);
  if (!started_ || stopped_) return;
  stopped_ = true;
  for (auto& l : listeners_) l.listener->stop();
  // Close every controller on its admin reactor; their I/O queues follow. In-flight backend I/O completes on
  // the still-running reactors before the connections are freed.
  auto all_controllers = [this] {
    std::vector<std::shared_ptr<Controller>> out = registry_->discovery()->controllers();
    for (auto& s : registry_->subsystems())
      for (auto& c : s->controllers()) out.push_back(std::move(c));
    return out;
  };
  for (auto& c : all_controllers()) c->request_close();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!all_controllers().empty() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  reactors_->stop();
  listeners_.clear();
  // An acknowledged write must survive the target: flush every backend once nothing runs anymore.
  for (auto& s : registry_->subsystems())
    for (auto& ns : s->namespaces()->all())
      if (int rc = ns->backend->sync(); rc < 0)
        NVMF_LOG(error, "subsystem %s namespace %u: final flush failed: %d", s->nqn().c_str(), ns->nsid, rc);
  NVMF_LOG(info, "target stopped");
}

std::vector<fabric::ListenAddress> Target::listen_addresses() const {
  std::lock_guard lock(mutex_);
  std::vector<fabric::ListenAddress> out;
  for (const auto& l : listeners_) out.push_back(l.listener->address());
  return out;
}

TargetConfig Target::current_config() const {
  std::lock_guard lock(mutex_);
  TargetConfig out = config_;
  out.hosts = registry_->hosts();  // with keys set or removed at run time
  if (!started_ || stopped_) return out;
  // Listeners as bound (ephemeral ports resolved), without the implicit discovery-only ones.
  out.listeners.clear();
  out.listener_subsystems.clear();
  out.listener_ana_states.clear();
  for (const auto& l : listeners_) {
    if (l.implicit_discovery) continue;
    if (!l.port.serves_nvm || !l.port.only.empty()) out.listener_subsystems[out.listeners.size()] = l.port.only;
    // ANA states as they are now (set-ana-state included), for the groups ever set on the port.
    const auto ana = registry_->ana().port(l.port.portid);
    for (std::uint32_t grpid : ana->configured_groups())
      out.listener_ana_states[out.listeners.size()][grpid] = ana->state(grpid);
    out.listeners.push_back(l.port.address);
  }
  return out;
}

}  // namespace nvmf::target
