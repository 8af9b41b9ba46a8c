#include "utils/cli_common.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <iostream>

#include "initiator/transport_factory.hpp"
#include "nvme/fabrics.hpp"

namespace nvmf::cli {

void add_output_option(CLI::App* cmd, std::string& format) {
  cmd->add_option("-o,--output-format", format, "Output format: normal|json")
      ->check(CLI::IsMember({"normal", "json"}))
      ->capture_default_str();
}

void add_connect_options(CLI::App* cmd, ConnectArgs& args, bool discovery, Spelling spelling, Paths paths) {
  auto& o = args.options;
  const bool nvme_cli = spelling == Spelling::nvme_cli;
  if (discovery) {
    o.subnqn = nvme::kDiscoveryNqn;
    args.keep_alive_seconds = 0;  // a one-shot discovery, as `nvme discover` without --persistent
  }
  // -t/--transport on every host command, perf included (README: "Option spelling").
  cmd->add_option("-t,--transport", o.transport,
                  std::string("Transport type: ") + initiator::supported_transports())
      ->check([](const std::string& t) {
        return initiator::transport_supported(t) ? std::string()
                                                 : "transport '" + t + "' is not supported by this build";
      })
      ->capture_default_str();
  // After --transport, so its callback sees the transport already set (CLI11 runs callbacks in definition order).
  cmd->add_option("--ofi-provider", "libfabric provider of the ofi transport (tcp, verbs, ...; default tcp)")
      ->each([&o](const std::string& provider) {
        if (o.transport != "ofi") throw CLI::ValidationError("--ofi-provider", "needs --transport ofi");
        o.transport = "ofi:" + provider;
      });
  if (paths == Paths::several) {
    cmd->add_option("-a,--traddr", args.traddrs,
                    "Transport address (default " + o.traddr + "); repeat for more paths to one subsystem");
    cmd->add_option("-s,--trsvcid", args.trsvcids,
                    "Transport service id (default 4420); the n-th pairs with the n-th -a, one goes with every -a");
  } else {
    cmd->add_option("-a,--traddr", o.traddr, "Transport address")->capture_default_str();
    cmd->add_option("-s,--trsvcid", o.trsvcid, discovery ? "Transport service id (default 8009)"
                                                          : "Transport service id (default 4420)");
  }
  auto* nqn = cmd->add_option("-n,--nqn", o.subnqn, "Subsystem NQN")->capture_default_str();
  if (!discovery && nvme_cli) nqn->required();
  cmd->add_option(nvme_cli ? "-q,--hostnqn" : "--hostnqn", o.hostnqn,
                  "Host NQN (default /etc/nvme/hostnqn, else generated)");
  cmd->add_option("-I,--hostid", o.hostid, "Host ID, a UUID (default /etc/nvme/hostid)");
  if (!discovery && nvme_cli) {
    cmd->add_option("-i,--nr-io-queues", o.nr_io_queues, "I/O queues to ask for")->capture_default_str();
    cmd->add_option("-Q,--queue-size", o.io_queue_size, "I/O queue size")->capture_default_str();
  }
  cmd->add_option("-k,--keep-alive-tmo", args.keep_alive_seconds, "Keep-alive timeout in seconds (0: off)")
      ->capture_default_str();
  // Long names only: nvme-cli's -c/-l/-f short forms clash with the I/O and log commands' options.
  cmd->add_option("--reconnect-delay", args.reconnect_delay, "Seconds between reconnect attempts")
      ->check(CLI::Range(0, 3600))
      ->capture_default_str();
  cmd->add_option("--ctrl-loss-tmo", args.ctrl_loss_tmo, "Seconds of reconnecting before giving up (-1: forever)")
      ->check(CLI::Range(-1, 1 << 20))
      ->capture_default_str();
  cmd->add_option("--fast_io_fail_tmo,--fast-io-fail-tmo", args.fast_io_fail_tmo,
                  "Seconds after a connection loss to fail queued I/O (-1: off)")
      ->check(CLI::Range(-1, 1 << 20))
      ->capture_default_str();
  cmd->add_option("--io-timeout", args.io_timeout, "Seconds before an I/O command resets its connection")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  // nvme-cli connect's -S/-C; a command whose own option already took the short name keeps the long one.
  auto spell = [cmd](const char* short_name, const char* long_name) {
    return std::string(cmd->get_option_no_throw(short_name) ? "" : std::string(short_name) + ",") + long_name;
  };
  cmd->add_option(spell("-S", "--dhchap-secret"), o.dhchap_secret,
                  "DH-HMAC-CHAP host secret (DHHC-1:HH:...:), used when the controller asks for authentication");
  cmd->add_option(spell("-C", "--dhchap-ctrl-secret"), o.dhchap_ctrl_secret,
                  "DH-HMAC-CHAP controller secret: authenticate the controller too (bidirectional)");
  cmd->add_flag("-g,--hdr-digest", o.header_digest, "Enable the NVMe/TCP header digest");
  cmd->add_flag("-G,--data-digest", o.data_digest, "Enable the NVMe/TCP data digest");
  cmd->add_flag("--tls", o.tls, "NVMe/TCP over TLS 1.3 with a pre-shared key (needs --tls-key)");
  cmd->add_option("--tls-key", o.tls_key,
                  "TLS PSK in interchange format (NVMeTLSkey-1:HH:...:) or a file holding it; implies --tls");
  cmd->add_option("--tls-key-identity-version", o.tls_identity_version,
                  "PSK identity version: 0 (NVMe0R0H host subsystem) or 1 (with the PSK digest)")
      ->check(CLI::Range(0, 1))
      ->capture_default_str();
  if (nvme_cli) {
    add_output_option(cmd, args.output_format);
  } else {
    cmd->add_option("--output-format", args.output_format, "Output format: normal|json")
        ->check(CLI::IsMember({"normal", "json"}))
        ->capture_default_str();
    cmd->add_option_function<std::string>(
        "-r,--transport-id", [&o](const std::string& trid) { apply_transport_id(trid, o); },
        "SPDK-style transport ID: 'trtype:tcp traddr:127.0.0.1 trsvcid:4420 subnqn:NQN'");
  }
}

void apply_transport_id(const std::string& trid, initiator::ControllerOptions& options) {
  std::size_t pos = 0;
  while (pos < trid.size()) {
    std::size_t end = trid.find_first_of(" \t", pos);
    std::string item = trid.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    pos = end == std::string::npos ? trid.size() : end + 1;
    if (item.empty()) continue;
    std::size_t colon = item.find(':');
    if (colon == std::string::npos) throw CLI::ValidationError("--transport-id", "'" + item + "' is not key:value");
    std::string key = item.substr(0, colon), value = item.substr(colon + 1);
    for (auto& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (key == "trtype") {
      for (auto& c : value) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      options.transport = value;
    } else if (key == "traddr") {
      options.traddr = value;
    } else if (key == "trsvcid") {
      options.trsvcid = value;
    } else if (key == "subnqn") {
      options.subnqn = value;
    } else if (key == "hostnqn") {
      options.hostnqn = value;
    } else if (key != "adrfam") {  // the address family follows from traddr
      throw CLI::ValidationError("--transport-id", "unknown key '" + key + "'");
    }
  }
}

initiator::ControllerOptions controller_options(const ConnectArgs& args) {
  using std::chrono::milliseconds;
  initiator::ControllerOptions o = args.options;
  o.keep_alive_timeout_ms = args.keep_alive_seconds * 1000;
  o.reconnect_delay = milliseconds(std::int64_t(args.reconnect_delay) * 1000);
  o.ctrl_loss_timeout = milliseconds(args.ctrl_loss_tmo < 0 ? -1 : std::int64_t(args.ctrl_loss_tmo) * 1000);
  o.fast_io_fail_timeout = milliseconds(args.fast_io_fail_tmo < 0 ? -1 : std::int64_t(args.fast_io_fail_tmo) * 1000);
  o.io_timeout = milliseconds(std::int64_t(args.io_timeout) * 1000);
  return o;
}

std::vector<initiator::ControllerOptions> controller_paths(const ConnectArgs& args) {
  const initiator::ControllerOptions base = controller_options(args);
  const std::size_t n = std::max<std::size_t>({args.traddrs.size(), args.trsvcids.size(), 1});
  auto pick = [](const std::vector<std::string>& given, const std::string& fallback, std::size_t i) {
    return given.empty() ? fallback : given.size() == 1 ? given[0] : given[i];
  };
  if ((args.traddrs.size() > 1 && args.traddrs.size() != n) || (args.trsvcids.size() > 1 && args.trsvcids.size() != n))
    fail(std::to_string(args.traddrs.size()) + " -a/--traddr and " + std::to_string(args.trsvcids.size()) +
         " -s/--trsvcid: give one of them once, or both as many times");
  std::vector<initiator::ControllerOptions> out(n, base);
  for (std::size_t i = 0; i < n; ++i) {
    out[i].traddr = pick(args.traddrs, base.traddr, i);
    out[i].trsvcid = pick(args.trsvcids, base.trsvcid, i);
  }
  return out;
}

std::unique_ptr<initiator::Controller> connect_or_exit(ConnectArgs& args) {
  args.options = controller_options(args);
  initiator::Error error;
  auto ctrl = initiator::Controller::connect(args.options, &error);
  if (!ctrl) fail("failed to connect: " + error.to_string(), 1);
  return ctrl;
}

void fail(const std::string& message, int code) {
  std::fprintf(stderr, "nvmf: %s\n", message.c_str());
  throw CLI::RuntimeError(code);
}

std::string trimmed(const char* field, std::size_t size) {
  std::size_t n = strnlen(field, size);
  while (n > 0 && (field[n - 1] == ' ' || field[n - 1] == '\0')) --n;
  return std::string(field, n);
}

std::string hex_bytes(const std::uint8_t* data, std::size_t size) {
  std::string out;
  char b[3];
  for (std::size_t i = 0; i < size; ++i) {
    std::snprintf(b, sizeof b, "%02x", data[i]);
    out += b;
  }
  return out;
}

// Every -o json document names the nvmf release that wrote it, so a stored result says where it came from.
template <typename Json>
void print_versioned(const Json& j) {
  if (!j.is_object()) {
    std::cout << j.dump(2) << std::endl;
    return;
  }
  Json out = j;
  out["nvmf_version"] = NVMF_VERSION;
  std::cout << out.dump(2) << std::endl;
}

void print_json(const nlohmann::json& j) { print_versioned(j); }
void print_json(const nlohmann::ordered_json& j) { print_versioned(j); }

}  // namespace nvmf::cli
