#include "target/target.hpp"

#include <chrono>
#include <stdexcept>
#include <thread>

#include "fabric/log.hpp"
#include "target/backends/file_backend.hpp"
#include "target/backends/null_backend.hpp"
#include "target/backends/ram_backend.hpp"
#include "target/controller.hpp"

#if __has_include("fabric/tcp/listener.hpp")
#include "fabric/tcp/listener.hpp"
#define NVMF_TARGET_HAVE_TCP 1
#endif

namespace nvmf::target {

namespace {
std::uint8_t log2_block(std::uint32_t block_size) { return block_size == 4096 ? 12 : 9; }

std::shared_ptr<Backend> open_backend(const NamespaceConfig& ns) {
  switch (ns.kind) {
    case BackendKind::ram:
      return std::make_shared<RamBackend>(ns.size);
    case BackendKind::null:
      return std::make_shared<NullBackend>(ns.size);
    case BackendKind::file:
      return std::make_shared<FileBackend>(ns.path, ns.block_size);
  }
  throw std::invalid_argument("unknown backend kind");
}

std::unique_ptr<fabric::Listener> listen(fabric::ReactorGroup& group, const fabric::ListenAddress& address,
                                         const fabric::TransportLimits& limits, fabric::QueueHandlerFactory& factory) {
#ifdef NVMF_TARGET_HAVE_TCP
  return fabric::listen_tcp(group, address, limits, factory);
#else
  (void)group, (void)limits, (void)factory;
  throw std::runtime_error("cannot listen on " + address.to_string() + ": the TCP transport is not built");
#endif
}
}  // namespace

std::shared_ptr<Subsystem> make_subsystem(const SubsystemConfig& config) {
  std::vector<std::shared_ptr<const Namespace>> namespaces;
  for (const NamespaceConfig& nc : config.namespaces) {
    auto ns = std::make_shared<Namespace>();
    ns->nsid = nc.nsid;
    ns->block_size = nc.block_size;
    ns->lba_shift = log2_block(nc.block_size);
    try {
      ns->backend = open_backend(nc);
    } catch (const std::exception& e) {
      throw std::runtime_error("subsystem " + config.nqn + " namespace " + std::to_string(nc.nsid) + ": " + e.what());
    }
    ns->blocks = ns->backend->size_bytes() >> ns->lba_shift;
    ns->ids = derive_namespace_ids(config.nqn, nc.nsid);
    NVMF_LOG(info, "subsystem %s: namespace %u = %s, %llu blocks of %u bytes", config.nqn.c_str(), ns->nsid,
             ns->backend->describe().c_str(), static_cast<unsigned long long>(ns->blocks), ns->block_size);
    namespaces.push_back(std::move(ns));
  }
  SubsystemIdentity identity{config.nqn, config.serial, config.model, config.firmware};
  return std::make_shared<Subsystem>(SubsystemKind::nvm, std::move(identity), config.allowed_hosts,
                                     std::make_shared<const NamespaceTable>(std::move(namespaces)));
}

Target::Target(TargetConfig config) : config_(std::move(config)) {
  config_.validate();
  log::set_level(config_.log_level);
  ControllerSettings settings;
  settings.limits = config_.limits;
  settings.max_io_queues = config_.max_io_queues;
  registry_ = std::make_shared<Registry>(settings);
  for (const SubsystemConfig& sc : config_.subsystems) registry_->add_subsystem(make_subsystem(resolve_defaults(sc)));
}

Target::~Target() { stop(); }

void Target::start() {
  if (started_) return;
  started_ = true;
  fabric::ReactorOptions options;
  options.busy_poll = config_.busy_poll;
  options.buffer_size = config_.limits.max_io_size;
  reactors_ = std::make_unique<fabric::ReactorGroup>(config_.cores, options);
  reactors_->start();
  factory_ = std::make_unique<SessionFactory>(registry_);

  std::vector<std::pair<fabric::ListenAddress, bool>> wanted;  // address, serves NVM subsystems
  for (const auto& l : config_.listeners) wanted.emplace_back(l, true);
  if (config_.discovery_port != 0) {
    const std::string port = std::to_string(config_.discovery_port);
    for (const auto& l : config_.listeners) {
      bool taken = false;
      for (const auto& w : wanted) taken |= w.first.traddr == l.traddr && w.first.trsvcid == port;
      if (taken) continue;
      fabric::ListenAddress d = l;
      d.trsvcid = port;
      wanted.emplace_back(d, false);
    }
  }
  try {
    std::uint16_t portid = 1;
    for (const auto& [address, serves_nvm] : wanted) {
      listeners_.push_back(listen(*reactors_, address, config_.limits, *factory_));
      Port port;
      port.portid = portid++;
      port.address = listeners_.back()->address();
      port.serves_nvm = serves_nvm;
      NVMF_LOG(info, "listening on %s (%s)", port.address.to_string().c_str(),
               serves_nvm ? "NVM subsystems and discovery" : "discovery");
      registry_->add_port(std::move(port));
    }
  } catch (...) {
    stop();
    throw;
  }
}

void Target::stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  for (auto& l : listeners_) l->stop();
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
  std::vector<fabric::ListenAddress> out;
  for (const auto& l : listeners_) out.push_back(l->address());
  return out;
}

}  // namespace nvmf::target
