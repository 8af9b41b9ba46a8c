// Options and helpers shared by the host-side subcommands. Connection options use nvme-cli's `nvme connect`
// spelling (-t -a -s -n -q -I -i -Q -k -g -G); -o/--output-format normal|json as nvme-cli. Where an I/O option
// of `nvme read`/`nvme write` would clash with them (-s start block, -n namespace), the I/O option gets a
// different short name (-S/--start-block, -N/--namespace-id), as each command's --help says.
#pragma once
#include <CLI/CLI.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "initiator/controller.hpp"

namespace nvmf::cli {

struct ConnectArgs {
  initiator::ControllerOptions options;
  unsigned keep_alive_seconds = 5;
  // Failure handling, in seconds, with the Linux host's defaults (nvme-cli connect's names).
  int reconnect_delay = 10;
  int ctrl_loss_tmo = 600;    ///< -1: retry forever
  int fast_io_fail_tmo = -1;  ///< -1: off
  unsigned io_timeout = 30;
  std::string output_format = "normal";
  /// Paths::several: every -a and -s given, in order (controller_paths() pairs them).
  std::vector<std::string> traddrs;
  std::vector<std::string> trsvcids;

  bool json() const { return output_format == "json"; }
};

enum class Spelling {
  nvme_cli,   ///< -t transport (also on perf), -q hostnqn, -o output format, -i/-Q queues
  perf,       ///< spdk_nvme_perf owns -q -o: those connection options are long-only; -r takes a transport ID
};

/// One path (-a and -s once) or several (-a and -s repeatable: a multipath set).
enum class Paths { one, several };

/// Add the connection options to `cmd`. `discovery` picks the discovery defaults (NQN, port 8009, KATO 0).
void add_connect_options(CLI::App* cmd, ConnectArgs& args, bool discovery, Spelling spelling = Spelling::nvme_cli,
                         Paths paths = Paths::one);

/// Apply an SPDK transport ID string ("trtype:tcp adrfam:ipv4 traddr:127.0.0.1 trsvcid:4420 subnqn:nqn...")
/// to `options`; throws CLI::ValidationError naming the bad key.
void apply_transport_id(const std::string& trid, initiator::ControllerOptions& options);
void add_output_option(CLI::App* cmd, std::string& format);

/// The controller options with the keep-alive and failure-handling arguments applied.
initiator::ControllerOptions controller_options(const ConnectArgs& args);
/// Paths::several: the options of each path, the n-th -a with the n-th -s; a single -a (or -s) goes with every
/// -s (or -a). Fails (CLI::RuntimeError) when both are repeated a different number of times.
std::vector<initiator::ControllerOptions> controller_paths(const ConnectArgs& args);
/// Connect or print why not and throw CLI::RuntimeError(1).
std::unique_ptr<initiator::Controller> connect_or_exit(ConnectArgs& args);

/// Print `message` to stderr and leave with exit code `code`.
[[noreturn]] void fail(const std::string& message, int code = 1);

/// A fixed-size, space-padded identify string without its padding (SN, MN, FR, NQNs).
std::string trimmed(const char* field, std::size_t size);
/// Hex text of raw bytes ("0x" prefix omitted), as nvme-cli prints NGUID and EUI64.
std::string hex_bytes(const std::uint8_t* data, std::size_t size);

void print_json(const nlohmann::json& j);
void print_json(const nlohmann::ordered_json& j);

}  // namespace nvmf::cli
