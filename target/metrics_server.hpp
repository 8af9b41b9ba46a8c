// The Prometheus endpoint (`nvmf target --metrics tcp:ADDR:PORT`): a minimal HTTP/1.1 responder on its own
// thread, never on a reactor, so a scrape costs the data path nothing but the relaxed loads of the counters.
// GET (or HEAD) /metrics answers the text exposition format; any other path is 404, any other method 405; a
// request head over 8 KiB is 431 and one not complete within 5 seconds is dropped. One connection at a time,
// closed after the reply (Connection: close): a scraper needs no more.
#pragma once
#include <string>

#include "fabric/transport.hpp"
#include "target/accept_thread.hpp"

namespace nvmf::target {

class Registry;

class MetricsServer {
 public:
  /// Binds and listens on `address` (TCP; port 0 picks a free one); throws std::runtime_error naming it.
  MetricsServer(const Registry& registry, const fabric::ListenAddress& address);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  /// The address bound ("tcp:127.0.0.1:9464"), with the port chosen when 0 was asked for.
  const std::string& bound() const { return bound_; }
  void stop();

 private:
  void serve(int fd);

  const Registry& registry_;
  std::string bound_;
  AcceptThread acceptor_;  ///< declared last: stopped (joined) before the members serve() uses go
};

}  // namespace nvmf::target
