#include "initiator/transport_factory.hpp"

#include "fabric/tcp/host_queue.hpp"

namespace nvmf::initiator {

bool transport_supported(const std::string& transport) { return transport == "tcp"; }

std::unique_ptr<fabric::HostQueue> connect_host_queue(const std::string& transport, fabric::Reactor& reactor,
                                                      const fabric::HostQueueOptions& options,
                                                      std::uint32_t in_capsule_limit, std::string* error) {
  if (transport == "tcp") {
    auto queue = fabric::connect_tcp_host_queue(reactor, options, error);
    if (queue) queue->set_in_capsule_limit(in_capsule_limit);
    return queue;
  }
  if (error) *error = "transport '" + transport + "' is not supported by this build";
  return nullptr;
}

void set_in_capsule_limit(fabric::HostQueue& queue, std::uint32_t limit) {
  if (auto* tcp = dynamic_cast<fabric::TcpHostQueue*>(&queue)) tcp->set_in_capsule_limit(limit);
}

}  // namespace nvmf::initiator
