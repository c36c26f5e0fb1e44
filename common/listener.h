// A TCP listener and the I/O threads that serve it, for the site agent's and the master's TLS
// servers: binds, accepts on a strand (so Stop() never races the accept loop), pauses briefly
// when accepting fails (out of descriptors), hands each connection to `serve` on a strand of its
// own, and runs until Stop() or, when asked, SIGTERM/SIGINT. An exception escaping a connection
// is logged, never fatal.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>

#include "common/status.h"

namespace fedra {

class Listener {
 public:
  using Serve = std::function<boost::asio::awaitable<void>(boost::asio::ip::tcp::socket)>;

  // Listens on address:port (port 0: any free one).
  static Result<std::unique_ptr<Listener>> Bind(const std::string& address, uint16_t port);

  uint16_t port() const { return port_; }

  // Serves on `threads` I/O threads until Stop(); returns when they have finished.
  void Run(int threads, bool handle_signals, Serve serve);
  // Stops accepting and ends every connection. Thread-safe.
  void Stop();

 private:
  Listener();
  boost::asio::awaitable<void> Accept(Serve serve);

  boost::asio::io_context io_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  boost::asio::ip::tcp::acceptor acceptor_;
  uint16_t port_ = 0;
};

// Writes `port` to `path` for whoever waits on the server (--ready-file, useful with port 0),
// through a rename so that readers never see a partial file.
Status WriteReadyFile(const std::filesystem::path& path, uint16_t port);

}  // namespace fedra
