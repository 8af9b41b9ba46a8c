// Turns configuration into served objects: a namespace (its backend opened) and a subsystem (its namespaces).
// Opening is where a configuration meets the machine (a missing file, a device the kernel cannot pass through),
// so failures are ConfigErrors naming the namespace's field, for the caller to locate in its own terms.
#pragma once
#include <memory>

#include "target/config.hpp"
#include "target/namespace.hpp"
#include "target/subsystem.hpp"

namespace nvmf::target {

/// Opens the backend of `config` (NSID already resolved). Throws ConfigError with field "path" or "size".
std::shared_ptr<const Namespace> make_namespace(const std::string& subsystem_nqn, const NamespaceConfig& config);

/// Opens every namespace of a subsystem (defaults already resolved). Throws ConfigError with field
/// "namespaces[N].path" and the like.
std::shared_ptr<Subsystem> make_subsystem(const SubsystemConfig& config);

}  // namespace nvmf::target
