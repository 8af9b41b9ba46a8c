#include "target/io_queue_registry.hpp"

#include <algorithm>
#include <map>
#include <mutex>

#include "fabric/reactor.hpp"
#include "target/io_queue.hpp"

namespace nvmf::target {

namespace {
std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}
std::map<fabric::Reactor*, std::vector<IoQueue*>>& registry() {
  static std::map<fabric::Reactor*, std::vector<IoQueue*>> r;
  return r;
}
}  // namespace

void register_io_queue(fabric::Reactor& reactor, IoQueue& queue) {
  std::lock_guard lock(registry_mutex());
  registry()[&reactor].push_back(&queue);
}

void unregister_io_queue(fabric::Reactor& reactor, IoQueue& queue) {
  std::lock_guard lock(registry_mutex());
  auto it = registry().find(&reactor);
  if (it == registry().end()) return;
  std::erase(it->second, &queue);
  if (it->second.empty()) registry().erase(it);
}

std::vector<fabric::Reactor*> reactors_with_io_queues() {
  std::lock_guard lock(registry_mutex());
  std::vector<fabric::Reactor*> out;
  for (const auto& [reactor, queues] : registry()) out.push_back(reactor);
  return out;
}

std::vector<IoQueue*> io_queues_on(fabric::Reactor& reactor) {
  std::lock_guard lock(registry_mutex());
  auto it = registry().find(&reactor);
  return it == registry().end() ? std::vector<IoQueue*>{} : it->second;
}

void wake_parked(fabric::Reactor& reactor) {
  reactor.post([&reactor] {
    for (IoQueue* q : io_queues_on(reactor)) {
      // A retried command may complete, and a transport may free its queue then: ask again before each call.
      const std::vector<IoQueue*> now = io_queues_on(reactor);
      if (std::find(now.begin(), now.end(), q) != now.end()) q->retry_parked();
    }
  });
}

}  // namespace nvmf::target
