// RAM namespace memory options: a default namespace stays sparse (no page resident until written), a prefaulted
// one has every page resident from creation and keeps them through Deallocate and Write Zeroes, huge pages are
// either given or refused with the system's reason; the configuration spellings and their refusals.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <vector>

#include "fabric/reactor.hpp"
#include "target/backends/ram_backend.hpp"
#include "target/backends/ram_memory.hpp"
#include "target/config.hpp"
#include "target/config_json.hpp"
#include "target/namespace_factory.hpp"
#include "target/registry.hpp"
#include "target/subsystem.hpp"
#include "target/target.hpp"

namespace nvmf::test {
namespace {

constexpr std::uint64_t kSize = 16ull << 20;

/// Pages of the mapping the kernel has in memory now.
std::size_t resident_pages(const target::RamMemory& m) {
  const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> vec(m.size() / page);
  EXPECT_EQ(mincore(m.data(), m.size(), vec.data()), 0) << std::strerror(errno);
  return static_cast<std::size_t>(std::count_if(vec.begin(), vec.end(), [](unsigned char v) { return v & 1; }));
}

std::size_t total_pages(const target::RamMemory& m) {
  return m.size() / static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

struct Op {
  target::BackendIo io;
  int result = 1;
  Op() {
    io.context = this;
    io.done = [](target::BackendIo& i, int res) { static_cast<Op*>(i.context)->result = res; };
  }
};

TEST(RamMemoryTest, DefaultIsSparseUntilWritten) {
  target::RamBackend b(kSize);
  EXPECT_EQ(resident_pages(b.memory()), 0u);
  fabric::Reactor r(0);
  std::vector<std::byte> buf(4096, std::byte{0x5a});
  Op w;
  b.write(r, w.io, 1 << 20, buf.data(), 4096, false);
  ASSERT_EQ(w.result, 0);
  const std::size_t after = resident_pages(b.memory());
  EXPECT_GE(after, 1u);
  EXPECT_LT(after, total_pages(b.memory()));
  EXPECT_EQ(b.describe(), "ram:" + std::to_string(kSize) + " bytes");
}

TEST(RamMemoryTest, PrefaultedIsResidentAndStaysResidentThroughDeallocate) {
  target::RamBackend b(kSize, {.prefault = true});
  ASSERT_EQ(resident_pages(b.memory()), total_pages(b.memory()));
  EXPECT_NE(b.describe().find("prefaulted"), std::string::npos) << b.describe();
  fabric::Reactor r(0);
  std::vector<std::byte> buf(1 << 20, std::byte{0x33});
  Op w;
  b.write(r, w.io, 0, buf.data(), static_cast<std::uint32_t>(buf.size()), false);
  ASSERT_EQ(w.result, 0);
  Op d, z;
  b.deallocate(r, d.io, 0, 512 << 10);
  b.write_zeroes(r, z.io, 512 << 10, 512 << 10);
  ASSERT_EQ(d.result, 0);
  ASSERT_EQ(z.result, 0);
  // Cleared in place: every page is still there, and reads back zero.
  EXPECT_EQ(resident_pages(b.memory()), total_pages(b.memory()));
  Op rd;
  b.read(r, rd.io, 0, buf.data(), static_cast<std::uint32_t>(buf.size()));
  ASSERT_EQ(rd.result, 0);
  EXPECT_TRUE(std::all_of(buf.begin(), buf.end(), [](std::byte x) { return x == std::byte{0}; }));
}

TEST(RamMemoryTest, HugePagesAreGivenOrRefusedWithTheSystemsReason) {
  const std::string mode = target::transparent_huge_page_mode();
  if (mode.empty() || mode == "never") {
    try {
      target::RamMemory m(kSize, {.prefault = true, .huge_pages = true});
      FAIL() << "huge pages accepted while THP is '" << mode << "'";
    } catch (const target::RamMemoryError& e) {
      EXPECT_EQ(e.field(), "huge_pages");
      EXPECT_NE(std::string(e.what()).find("transparent huge pages"), std::string::npos) << e.what();
    }
    return;
  }
  target::RamMemory m(kSize, {.prefault = true, .huge_pages = true});
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(m.data()) % (2u << 20), 0u);
  EXPECT_EQ(resident_pages(m), total_pages(m));
  // 16 MiB with MADV_HUGEPAGE populated at once: the kernel compacts for them, so some must be huge.
  EXPECT_GT(m.huge_page_bytes(), 0u) << "THP mode " << mode;
  EXPECT_LE(m.huge_page_bytes(), kSize);
  // A sparse mapping has none.
  target::RamMemory sparse(kSize, {});
  EXPECT_EQ(sparse.huge_page_bytes(), 0u);
}

TEST(RamMemoryTest, HugePagesWithoutPrefaultAreRefused) {
  try {
    target::RamMemory m(kSize, {.prefault = false, .huge_pages = true});
    FAIL() << "on-demand huge pages accepted";
  } catch (const target::RamMemoryError& e) {
    EXPECT_EQ(e.field(), "huge_pages");
  }
}

TEST(RamMemoryTest, MemoryThatCannotBeCommittedIsRefusedWithoutANamespace) {
  // With overcommit_memory 1 the kernel would accept the mapping and the populate would meet the OOM killer.
  std::ifstream overcommit("/proc/sys/vm/overcommit_memory");
  int mode = -1;
  overcommit >> mode;
  if (mode == 1) GTEST_SKIP() << "vm.overcommit_memory is 1: nothing is refused at commit time";
  // Twice RAM + swap: beyond the commit limit of heuristic or strict overcommit, while a sparse mapping of that
  // size still fits the address space (not a fixed 4 TiB: under TSan its shadow leaves less room than that).
  std::ifstream meminfo("/proc/meminfo");
  std::uint64_t total_kib = 0;
  for (std::string key; meminfo >> key;) {
    std::uint64_t kib = 0;
    if ((key == "MemTotal:" || key == "SwapTotal:") && meminfo >> kib) total_kib += kib;
  }
  ASSERT_GT(total_kib, 0u);
  const std::string spec = "ram:" + std::to_string(2 * total_kib / 1024 + 1) + "M,prefault";
  target::NamespaceConfig nc = target::parse_namespace(spec, 512);
  nc.nsid = 1;
  try {
    target::make_namespace("nqn.2024-01.io.nvmf:ram", nc);
    FAIL() << spec << " prefaulted";
  } catch (const target::ConfigError& e) {
    EXPECT_EQ(e.field(), "prefault");
    EXPECT_NE(std::string(e.what()).find("cannot commit"), std::string::npos) << e.what();
  }
  nc.prefault = false;
  EXPECT_NO_THROW(target::make_namespace("nqn.2024-01.io.nvmf:ram", nc));
}

TEST(RamConfigTest, CommandLineSpellings) {
  auto ns = target::parse_namespace("ram:1G,prefault", 512);
  EXPECT_EQ(ns.size, 1ull << 30);
  EXPECT_TRUE(ns.prefault);
  EXPECT_FALSE(ns.huge_pages);
  ns = target::parse_namespace("ram:64M,prefault,huge_pages", 4096);
  EXPECT_TRUE(ns.prefault && ns.huge_pages);
  EXPECT_FALSE(target::parse_namespace("ram:1G", 512).prefault);
  EXPECT_TRUE(target::parse_namespace("fault:ram:1M,prefault?read_error=all", 512).prefault);
  EXPECT_THROW(target::parse_namespace("ram:1G,huge_pages", 512), std::invalid_argument);
  EXPECT_THROW(target::parse_namespace("ram:1G,prefetch", 512), std::invalid_argument);
  EXPECT_THROW(target::parse_namespace("ram:1G,", 512), std::invalid_argument);
  EXPECT_THROW(target::parse_namespace("null:1G,prefault", 512), std::invalid_argument);
}

TEST(RamConfigTest, ValidationRefusesOptionsOutsideRam) {
  auto refused_field = [](const target::NamespaceConfig& ns) -> std::string {
    try {
      target::validate_namespace(ns, "subsystems[0].namespaces[0]");
    } catch (const target::ConfigError& e) {
      return e.field();
    }
    return "";
  };
  target::NamespaceConfig file;
  file.kind = target::BackendKind::file;
  file.path = "/tmp/x.img";
  file.prefault = true;
  EXPECT_EQ(refused_field(file), "subsystems[0].namespaces[0].prefault");
  target::NamespaceConfig null_ns = target::parse_namespace("null:1M", 512);
  null_ns.prefault = null_ns.huge_pages = true;
  EXPECT_EQ(refused_field(null_ns), "subsystems[0].namespaces[0].prefault");
  target::NamespaceConfig ram = target::parse_namespace("ram:1M", 512);
  ram.huge_pages = true;
  EXPECT_EQ(refused_field(ram), "subsystems[0].namespaces[0].huge_pages");
  ram.prefault = true;
  EXPECT_EQ(refused_field(ram), "");
}

TEST(RamConfigTest, JsonRoundTripAndBadValuesAreLocated) {
  const nlohmann::json doc = {
      {"listeners", {"tcp:127.0.0.1:4420"}},
      {"subsystems",
       {{{"nqn", "nqn.2024-01.io.nvmf:r"},
         {"namespaces", {{{"backend", "ram"}, {"size", "1M"}, {"prefault", true}, {"huge_pages", true}},
                         {{"backend", "ram"}, {"size", "1M"}}}}}}}};
  target::LoadedConfig loaded = target::parse_config(doc, "t.json");
  const auto& nss = loaded.config.subsystems[0].namespaces;
  EXPECT_TRUE(nss[0].prefault && nss[0].huge_pages);
  EXPECT_FALSE(nss[1].prefault || nss[1].huge_pages);
  loaded.config.validate();
  const nlohmann::json saved = target::to_json(loaded.config);
  EXPECT_EQ(saved["subsystems"][0]["namespaces"][0]["prefault"], true);
  EXPECT_EQ(saved["subsystems"][0]["namespaces"][0]["huge_pages"], true);
  EXPECT_FALSE(saved["subsystems"][0]["namespaces"][1].contains("prefault"));

  nlohmann::json not_bool = doc;
  not_bool["subsystems"][0]["namespaces"][0]["prefault"] = "yes";
  try {
    target::parse_config(not_bool, "t.json");
    FAIL() << "a string prefault was accepted";
  } catch (const target::ConfigError& e) {
    EXPECT_NE(e.field().find("t.json: /subsystems/0/namespaces/0/prefault"), std::string::npos) << e.what();
  }
  nlohmann::json on_null = doc;
  on_null["subsystems"][0]["namespaces"][1] = {{"backend", "null"}, {"size", "1M"}, {"prefault", true}};
  target::LoadedConfig refused = target::parse_config(on_null, "t.json");
  try {
    refused.config.validate();
    FAIL() << "prefault on a null namespace was accepted";
  } catch (const target::ConfigError& e) {
    const target::ConfigError located = target::locate(e, refused);
    EXPECT_NE(located.field().find("t.json: /subsystems/0/namespaces/1/prefault"), std::string::npos)
        << located.what();
    EXPECT_NE(located.reason().find("only a ram namespace"), std::string::npos) << located.what();
  }
}

TEST(RamConfigTest, ReloadWithPrefaultReplacesTheNamespace) {
  auto config = [](bool prefault) {
    target::TargetConfig c;
    c.listeners.push_back(target::parse_listen_address("tcp:127.0.0.1:0"));
    target::SubsystemConfig s;
    s.nqn = "nqn.2024-01.io.nvmf:ram-reload";
    s.namespaces.push_back(target::parse_namespace(prefault ? "ram:1M,prefault" : "ram:1M", 512));
    c.subsystems.push_back(s);
    return c;
  };
  target::Target target(config(false));
  auto described = [&] { return target.registry()->subsystems().at(0)->namespaces()->find(1)->backend->describe(); };
  EXPECT_EQ(described().find("prefaulted"), std::string::npos) << described();
  const auto changes = target.reload(config(true));
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_NE(changes[0].find("namespace 1 replaced"), std::string::npos) << changes[0];
  EXPECT_NE(described().find("prefaulted"), std::string::npos) << described();
  EXPECT_TRUE(target.reload(config(true)).empty());
}

}  // namespace
}  // namespace nvmf::test
