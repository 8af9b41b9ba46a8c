#include "fabric/tcp/host_queue.hpp"

#include "fabric/host_status.hpp"

namespace nvmf::fabric {

void TcpHostQueue::close() {
  connection_->close(host_aborted(), "queue closed by the host");
}

std::unique_ptr<TcpHostQueue> connect_tcp_host_queue(Reactor& reactor, const HostQueueOptions& options,
                                                     std::string* error) {
  std::string why;
  tcp::HostConnection* connection = tcp::HostConnection::open(reactor, options, &why);
  if (!connection) {
    if (error) *error = why;
    return nullptr;
  }
  return std::make_unique<TcpHostQueue>(connection);
}

}  // namespace nvmf::fabric
