// The site agent's TLS server: accepts only the federation's masters, reads framed request
// batches with size limits and deadlines (their values streaming straight into place), runs each
// on a compute pool as soon as it has arrived (never on an I/O thread; batches on one connection
// run side by side), and answers each with a response batch over the same persistent connection.
#pragma once

#include <memory>
#include <thread>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/thread_pool.hpp>

#include "common/listener.h"
#include "common/status.h"
#include "site-agent/site_agent.h"
#include "site-agent/site_config.h"

namespace fedra {

class SiteServer {
 public:
  // Loads the TLS kit, opens the audit log, probes the catalog and binds the listener.
  static Result<std::unique_ptr<SiteServer>> Create(SiteConfig config);
  ~SiteServer();

  // The bound port (the configured one, or the one picked for port 0).
  uint16_t port() const { return listener_->port(); }

  // Serves until Stop(), or SIGTERM/SIGINT when `handle_signals`; returns once every thread has
  // finished.
  void Run(bool handle_signals);

  // Stops accepting and closes every connection. Thread-safe; Run() then returns.
  void Stop();

 private:
  explicit SiteServer(SiteConfig config);

  boost::asio::awaitable<void> Serve(boost::asio::ip::tcp::socket socket);

  SiteConfig config_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  std::unique_ptr<SiteAgent> agent_;
  boost::asio::thread_pool compute_;
  // Declared last so that it goes first: pending sessions are torn down while what they use lives.
  std::unique_ptr<Listener> listener_;
};

}  // namespace fedra
