#include "target/namespace.hpp"

#include <algorithm>
#include <stdexcept>

namespace nvmf::target {

namespace {
std::uint64_t fnv1a(const std::string& text, std::uint64_t hash = 0xcbf29ce484222325ULL) {
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

void put_be64(std::uint8_t* out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<std::uint8_t>(v >> (56 - 8 * i));
}
}  // namespace

NamespaceIds derive_namespace_ids(const std::string& subsystem_nqn, std::uint32_t nsid) {
  const std::string key = subsystem_nqn + "#" + std::to_string(nsid);
  NamespaceIds ids;
  put_be64(ids.nguid.data(), fnv1a("nguid-hi:" + key));
  put_be64(ids.nguid.data() + 8, fnv1a("nguid-lo:" + key));
  put_be64(ids.eui64.data(), fnv1a("eui64:" + key));
  ids.eui64[0] = static_cast<std::uint8_t>((ids.eui64[0] | 0x02) & ~0x01);  // locally administered, unicast
  put_be64(ids.uuid.data(), fnv1a("uuid-hi:" + key));
  put_be64(ids.uuid.data() + 8, fnv1a("uuid-lo:" + key));
  ids.uuid[6] = static_cast<std::uint8_t>((ids.uuid[6] & 0x0F) | 0x80);  // version 8
  ids.uuid[8] = static_cast<std::uint8_t>((ids.uuid[8] & 0x3F) | 0x80);  // RFC 4122 variant
  return ids;
}

NamespaceTable::NamespaceTable(std::vector<std::shared_ptr<const Namespace>> namespaces)
    : namespaces_(std::move(namespaces)) {
  std::sort(namespaces_.begin(), namespaces_.end(), [](const auto& a, const auto& b) { return a->nsid < b->nsid; });
  for (std::size_t i = 0; i < namespaces_.size(); ++i) {
    if (namespaces_[i]->nsid == 0 || namespaces_[i]->nsid == 0xFFFFFFFF)
      throw std::invalid_argument("namespace ID " + std::to_string(namespaces_[i]->nsid) + " is reserved");
    if (i > 0 && namespaces_[i]->nsid == namespaces_[i - 1]->nsid)
      throw std::invalid_argument("namespace ID " + std::to_string(namespaces_[i]->nsid) + " is used twice");
  }
}

bool Namespace::visible_to(const std::string& host_nqn) const {
  return hosts.empty() || std::find(hosts.begin(), hosts.end(), host_nqn) != hosts.end();
}

std::shared_ptr<const NamespaceTable> NamespaceTable::visible_to(const std::string& host_nqn) const {
  std::vector<std::shared_ptr<const Namespace>> out;
  for (const auto& ns : namespaces_)
    if (ns->visible_to(host_nqn)) out.push_back(ns);
  return std::make_shared<const NamespaceTable>(std::move(out));
}

std::shared_ptr<const NamespaceTable> NamespaceTable::with(std::shared_ptr<const Namespace> ns) const {
  auto all = namespaces_;
  all.push_back(std::move(ns));
  return std::make_shared<const NamespaceTable>(std::move(all));
}

std::shared_ptr<const NamespaceTable> NamespaceTable::without(std::uint32_t nsid) const {
  std::vector<std::shared_ptr<const Namespace>> out;
  for (const auto& ns : namespaces_)
    if (ns->nsid != nsid) out.push_back(ns);
  return std::make_shared<const NamespaceTable>(std::move(out));
}

const Namespace* NamespaceTable::find(std::uint32_t nsid) const {
  const std::ptrdiff_t i = index_of(nsid);
  return i < 0 ? nullptr : namespaces_[static_cast<std::size_t>(i)].get();
}

std::ptrdiff_t NamespaceTable::index_of(std::uint32_t nsid) const {
  auto it = std::lower_bound(namespaces_.begin(), namespaces_.end(), nsid,
                             [](const auto& ns, std::uint32_t id) { return ns->nsid < id; });
  return it != namespaces_.end() && (*it)->nsid == nsid ? it - namespaces_.begin() : -1;
}

}  // namespace nvmf::target
