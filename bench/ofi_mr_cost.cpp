// What memory registration costs an NVMe host on libfabric, per I/O buffer size, for docs/libfabric.md:
//   register  fi_mr_reg + fi_close of a buffer of that size (what a host without a cache pays per I/O)
//   cache     RegistrationCache acquire + release of a buffer registered before (the host's path for an
//             application buffer it has seen, fabric/rdma/registration_cache.cpp)
//   bounce    memcpy of the size into a registered buffer (the host's path for a request of several buffers)
// Each case runs --iterations times per round, --rounds rounds interleaved; the best round and the spread
// (worst/best) are printed, in ns per operation. Registrations go through OfiRegistrar, the transport's own.
//
//   nvmf-ofi-mr-cost [--provider tcp] [--address 127.0.0.1] [--iterations 2000] [--rounds 3]
#include <rdma/fi_domain.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "fabric/ofi/endpoint.hpp"
#include "fabric/ofi/ofi_info.hpp"
#include "fabric/ofi/ofi_registrar.hpp"
#include "fabric/rdma/registration_cache.hpp"

using namespace nvmf::fabric;
using Clock = std::chrono::steady_clock;

namespace {

struct Best {
  double best = 0;
  double worst = 0;
  void add(double ns) {
    best = best == 0 ? ns : std::min(best, ns);
    worst = std::max(worst, ns);
  }
};

template <typename F>
double ns_per_op(int iterations, F&& op) {
  const auto start = Clock::now();
  for (int i = 0; i < iterations; ++i) op(i);
  return std::chrono::duration<double, std::nano>(Clock::now() - start).count() / iterations;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"time libfabric memory registration against the registration cache and a bounce copy"};
  std::string provider = "tcp", address = "127.0.0.1";
  int iterations = 2000, rounds = 3;
  app.add_option("--provider", provider, "libfabric provider (fi_info -l)");
  app.add_option("--address", address, "a local address of the provider's interface");
  app.add_option("--iterations", iterations, "operations per case and round")->check(CLI::PositiveNumber);
  app.add_option("--rounds", rounds, "interleaved rounds; the best is printed")->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);

  std::string error;
  auto info = ofi::get_info(provider, address, "0", true, &error);
  if (!info) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return 1;
  }
  auto fabric = ofi::Fabric::open(*info, &error);
  auto domain = fabric ? ofi::Endpoint::open_domain(fabric, *info, ofi::EndpointSizes{1, 1}, &error) : nullptr;
  if (!domain) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return 1;
  }
  const std::vector<std::size_t> sizes = {4096, 16384, 65536, 131072, 262144, 1048576};
  constexpr std::size_t kBuffers = 8;  // rotate over a few buffers so the copy does not run from L1 alone
  const std::size_t largest = sizes.back();
  struct Free {
    void operator()(std::byte* p) const { std::free(p); }
  };
  // Before the registrar and cache: the memory outlives every registration of it.
  std::unique_ptr<std::byte, Free> memory_owner(static_cast<std::byte*>(std::aligned_alloc(4096, largest * kBuffers)));
  std::unique_ptr<std::byte, Free> bounce_owner(static_cast<std::byte*>(std::aligned_alloc(4096, largest)));
  std::byte* memory = memory_owner.get();
  std::byte* bounce = bounce_owner.get();
  if (!memory || !bounce) return 1;
  // The host's access flags for application buffers (host_connect.cpp).
  ofi::OfiRegistrar registrar(domain->domain(), FI_SEND | FI_REMOTE_READ | FI_REMOTE_WRITE, domain->mr_mode(),
                              domain->next_key());
  rdma::RegistrationCache cache(registrar);
  std::memset(memory, 0x5a, largest * kBuffers);
  std::memset(bounce, 0, largest);

  std::vector<Best> reg(sizes.size()), hit(sizes.size()), copy(sizes.size());
  bool failed = false;
  for (int round = 0; round < rounds && !failed; ++round) {
    for (std::size_t s = 0; s < sizes.size() && !failed; ++s) {
      const std::size_t size = sizes[s];
      auto buffer = [&](int i) { return memory + std::size_t(i % kBuffers) * largest; };
      reg[s].add(ns_per_op(iterations, [&](int i) {
        rdma::MemoryRegion region;
        if (!registrar.register_region(reinterpret_cast<std::uintptr_t>(buffer(i)), size, &region, &error)) {
          failed = true;
          return;
        }
        registrar.deregister_region(region);
      }));
      for (std::size_t b = 0; b < kBuffers; ++b) {  // warm: every buffer registered once, as a host's would be
        auto* e = cache.acquire(memory + b * largest, size, &error);
        if (!e) failed = true;
        else cache.release(e);
      }
      hit[s].add(ns_per_op(iterations, [&](int i) {
        auto* e = cache.acquire(buffer(i), size, &error);
        if (e) cache.release(e);
      }));
      copy[s].add(ns_per_op(iterations, [&](int i) { std::memcpy(bounce, buffer(i), size); }));
    }
  }
  if (failed) {
    std::fprintf(stderr, "registration failed: %s\n", error.c_str());
    return 1;
  }
  std::printf("provider %s, mr_mode 0x%x, %d iterations x %d rounds, best round (worst/best)\n", provider.c_str(),
              static_cast<unsigned>(domain->mr_mode()), iterations, rounds);
  std::printf("%10s %22s %22s %22s\n", "size", "fi_mr_reg+fi_close ns", "cache hit ns", "bounce memcpy ns");
  for (std::size_t s = 0; s < sizes.size(); ++s)
    std::printf("%10zu %15.0f (%4.2f) %15.0f (%4.2f) %15.0f (%4.2f)\n", sizes[s], reg[s].best,
                reg[s].worst / reg[s].best, hit[s].best, hit[s].worst / hit[s].best, copy[s].best,
                copy[s].worst / copy[s].best);
  std::printf("cache: %zu regions, %llu hits, %llu misses\n", cache.regions(),
              static_cast<unsigned long long>(cache.hits()), static_cast<unsigned long long>(cache.misses()));
  return 0;
}
