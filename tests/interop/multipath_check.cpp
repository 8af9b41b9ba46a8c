// multipath_check: the host library's MultipathSet (initiator/multipath.hpp) against any NVMe-oF subsystem reached
// through two ports, for the interop suites (the peer: the Linux kernel target with ANA).
//   multipath_check TRADDR PORT_A PORT_B SUBNQN SECONDS HOSTNQN
// For SECONDS it writes 8-block chunks at rotating LBAs of NSID 1 and reads each back, comparing; every time the
// ANA state it holds for a path changes it prints "path P ana S" (S: 1 optimized, 2 non-optimized,
// 3 inaccessible, 4 persistent loss, 15 change); at the end "ios path0=N path1=M retries=R".
// Exit status 0 when every command succeeded and every read matched, 1 otherwise, 2 on a usage error.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "initiator/multipath.hpp"

int main(int argc, char** argv) {
  if (argc != 7) {
    std::fprintf(stderr, "usage: multipath_check TRADDR PORT_A PORT_B SUBNQN SECONDS HOSTNQN\n");
    return 2;
  }
  using namespace nvmf::initiator;
  std::vector<ControllerOptions> paths(2);
  for (int i = 0; i < 2; ++i) {
    paths[i].traddr = argv[1];
    paths[i].trsvcid = argv[2 + i];
    paths[i].subnqn = argv[4];
    paths[i].hostnqn = argv[6];
    paths[i].reconnect_delay = std::chrono::milliseconds(1000);
  }
  Error error;
  auto set = MultipathSet::connect(paths, &error);
  if (!set) {
    std::fprintf(stderr, "connect: %s\n", error.to_string().c_str());
    return 1;
  }
  const Namespace* ns = set->find_namespace(1);
  if (!ns) {
    std::fprintf(stderr, "no namespace 1\n");
    return 1;
  }
  const std::uint32_t nlb = 8;
  const std::uint64_t chunks = std::min<std::uint64_t>(ns->capacity_blocks / nlb, 4096);
  std::vector<std::uint8_t> out(std::size_t(nlb) * ns->block_size), back(out.size());
  std::uint8_t seen[2] = {0, 0};
  std::uint64_t ios[2] = {0, 0};
  unsigned failures = 0;
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(std::atoi(argv[5]));
  for (std::uint64_t n = 0; std::chrono::steady_clock::now() < end; ++n) {
    for (std::size_t p = 0; p < 2; ++p)
      if (set->ana_state(p, 1) != seen[p]) {
        seen[p] = set->ana_state(p, 1);
        std::printf("path %zu ana %u\n", p, seen[p]);
        std::fflush(stdout);
      }
    const std::uint64_t slba = (n % chunks) * nlb;
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::uint8_t>(n * 131 + i);
    nvmf::nvme::Status w = set->write_sync(1, slba, nlb, out.data());
    ios[set->last_path()]++;
    nvmf::nvme::Status r = w.ok() ? set->read_sync(1, slba, nlb, back.data()) : w;
    if (r.ok()) ios[set->last_path()]++;
    if (!w.ok() || !r.ok() || back != out) {
      std::fprintf(stderr, "chunk %llu at LBA %llu: write %s, read %s%s\n", static_cast<unsigned long long>(n),
                   static_cast<unsigned long long>(slba), w.to_string().c_str(), r.to_string().c_str(),
                   r.ok() ? ", data differs" : "");
      if (++failures > 10) break;
    }
  }
  std::printf("ios path0=%llu path1=%llu retries=%llu\n", static_cast<unsigned long long>(ios[0]),
              static_cast<unsigned long long>(ios[1]), static_cast<unsigned long long>(set->retries()));
  return failures == 0 ? 0 : 1;
}
