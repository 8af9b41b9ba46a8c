#include "target/namespace_factory.hpp"

#include "fabric/log.hpp"
#include "target/backends/block_backend.hpp"
#include "target/backends/fault_backend.hpp"
#include "target/backends/file_backend.hpp"
#include "target/backends/null_backend.hpp"
#include "target/backends/nvme_passthrough_backend.hpp"
#include "target/backends/ram_backend.hpp"

namespace nvmf::target {

namespace {
std::uint8_t log2_block(std::uint32_t block_size) {
  std::uint8_t shift = 0;
  while ((1u << shift) < block_size) ++shift;
  return shift;
}

std::shared_ptr<Backend> open_backend(const NamespaceConfig& ns) {
  switch (ns.kind) {
    case BackendKind::ram:
      return std::make_shared<RamBackend>(ns.size, RamOptions{ns.prefault, ns.huge_pages});
    case BackendKind::null:
      return std::make_shared<NullBackend>(ns.size);
    case BackendKind::file:
      return std::make_shared<FileBackend>(ns.path, ns.block_size);
    case BackendKind::blk:
      return open_block_device(ns.path);
    case BackendKind::nvme:
      return std::make_shared<NvmePassthroughBackend>(ns.path);
  }
  throw std::invalid_argument("unknown backend kind");
}
}  // namespace

std::shared_ptr<const Namespace> make_namespace(const std::string& subsystem_nqn, const NamespaceConfig& nc) {
  auto ns = std::make_shared<Namespace>();
  ns->nsid = nc.nsid;
  try {
    ns->backend = open_backend(nc);
  } catch (const RamMemoryError& e) {
    throw ConfigError(e.field(), e.field() == "size" ? std::to_string(nc.size) : "true", e.what());
  } catch (const std::exception& e) {
    const bool has_path = nc.kind != BackendKind::ram && nc.kind != BackendKind::null;
    throw ConfigError(has_path ? "path" : "size", has_path ? nc.path : std::to_string(nc.size), e.what());
  }
  // Devices bring their own logical block size; files and memory use the configured one.
  ns->block_size = ns->backend->block_size() ? ns->backend->block_size() : nc.block_size;
  ns->lba_shift = log2_block(ns->block_size);
  if (!nc.faults.empty()) {
    try {
      ns->backend = std::make_shared<FaultBackend>(ns->backend, parse_fault_spec(nc.faults), ns->lba_shift);
    } catch (const std::invalid_argument& e) {
      throw ConfigError("faults", nc.faults, e.what());
    }
  }
  ns->blocks = ns->backend->size_bytes() >> ns->lba_shift;
  ns->ids = derive_namespace_ids(subsystem_nqn, nc.nsid);
  if (nc.nguid) ns->ids.nguid = *nc.nguid;
  if (nc.uuid) ns->ids.uuid = *nc.uuid;
  ns->hosts = nc.hosts;
  ns->anagrpid = nc.ana_grpid;
  if (!nc.ptpl_file.empty()) {
    try {
      ns->reservations->persist_to(nc.ptpl_file);
    } catch (const std::runtime_error& e) {
      throw ConfigError("ptpl_file", nc.ptpl_file, e.what());
    }
  }
  NVMF_LOG(info, "subsystem %s: namespace %u = %s, %llu blocks of %u bytes%s", subsystem_nqn.c_str(), ns->nsid,
           ns->backend->describe().c_str(), static_cast<unsigned long long>(ns->blocks), ns->block_size,
           ns->hosts.empty() ? "" : " (masked to listed hosts)");
  return ns;
}

std::shared_ptr<Subsystem> make_subsystem(const SubsystemConfig& config) {
  std::vector<std::shared_ptr<const Namespace>> namespaces;
  for (std::size_t i = 0; i < config.namespaces.size(); ++i) {
    try {
      namespaces.push_back(make_namespace(config.nqn, config.namespaces[i]));
    } catch (const ConfigError& e) {
      throw e.renamed("namespaces[" + std::to_string(i) + "]." + e.field());
    }
  }
  SubsystemIdentity identity{config.nqn, config.serial, config.model, config.firmware};
  return std::make_shared<Subsystem>(SubsystemKind::nvm, std::move(identity), config.allowed_hosts,
                                     std::make_shared<const NamespaceTable>(std::move(namespaces)), config.cntlid_min,
                                     config.cntlid_max);
}

}  // namespace nvmf::target
