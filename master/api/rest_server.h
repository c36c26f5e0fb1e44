// The master's HTTPS server for the REST API: Beast over TLS 1.3 with the master's certificate
// from the federation CA. Every read has a deadline, request headers and bodies have size limits
// (an oversized body gets 413 before it is read), and requests are handled on a small pool so
// the I/O threads never wait on the database or the federation.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/thread_pool.hpp>

#include "common/config.h"
#include "common/listener.h"
#include "master/api/rest_api.h"
#include "master/api/static_files.h"

namespace fedra {

struct RestServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 8443;  // 0: any free port
  size_t max_body_bytes = 4 << 20;
  std::chrono::seconds read_timeout{30};  // for a whole request once it has started
  std::chrono::seconds idle_timeout{60};  // between requests on a kept-alive connection
};

class RestServer {
 public:
  // Serves /api/v1/ from `api` and every other GET from `web` (the dashboard), when given.
  static Result<std::unique_ptr<RestServer>> Create(const RestServerOptions& options, const TlsFiles& tls, RestApi& api,
                                                    const StaticFiles* web);
  ~RestServer();

  uint16_t port() const { return listener_->port(); }
  // Serves until Stop(), or SIGTERM/SIGINT when `handle_signals`.
  void Run(bool handle_signals);
  void Stop();

 private:
  RestServer(const RestServerOptions& options, RestApi& api, const StaticFiles* web);
  ApiResponse Handle(const ApiRequest& request) const;
  boost::asio::awaitable<void> Serve(boost::asio::ip::tcp::socket socket);

  RestServerOptions options_;
  RestApi& api_;
  const StaticFiles* web_;
  boost::asio::thread_pool handlers_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  // Declared last so that it goes first: connections end while what they use lives.
  std::unique_ptr<Listener> listener_;
};

}  // namespace fedra
