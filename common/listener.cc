#include "common/listener.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/as_tuple.h"
#include "common/logging.h"

namespace fedra {
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

void LogEscapedException(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    FEDRA_LOG(kError) << "connection: " << ex.what();
  }
}

}  // namespace

Listener::Listener() : strand_(net::make_strand(io_)), acceptor_(strand_) {}

Result<std::unique_ptr<Listener>> Listener::Bind(const std::string& address, uint16_t port) {
  std::unique_ptr<Listener> listener(new Listener());
  boost::system::error_code ec;
  const auto ip = net::ip::make_address(address, ec);
  if (ec) return InvalidArgument("listen address '" + address + "': " + ec.message());
  const tcp::endpoint endpoint(ip, port);
  auto& acceptor = listener->acceptor_;
  if (acceptor.open(endpoint.protocol(), ec); !ec) {
    acceptor.set_option(net::socket_base::reuse_address(true), ec);
    if (acceptor.bind(endpoint, ec); !ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  }
  if (ec) return Unavailable("cannot listen on " + address + ":" + std::to_string(port) + ": " + ec.message());
  listener->port_ = acceptor.local_endpoint().port();
  return listener;
}

void Listener::Run(int threads, bool handle_signals, Serve serve) {
  net::signal_set signals(io_);
  if (handle_signals) {
    signals.add(SIGTERM);
    signals.add(SIGINT);
    signals.async_wait([this](const boost::system::error_code& ec, int signal) {
      if (ec) return;
      FEDRA_LOG(kInfo) << "signal " << signal << ": shutting down";
      Stop();
    });
  }
  net::co_spawn(strand_, Accept(std::move(serve)), net::detached);
  std::vector<std::thread> others;
  for (int i = 1; i < threads; ++i) others.emplace_back([this] { io_.run(); });
  io_.run();
  for (auto& t : others) t.join();
}

void Listener::Stop() {
  net::post(strand_, [this] {
    boost::system::error_code ec;
    acceptor_.close(ec);
    io_.stop();
  });
}

net::awaitable<void> Listener::Accept(Serve serve) {
  int failures = 0;  // in a row
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(net::make_strand(io_), kAsTuple);
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) co_return;
    if (ec) {
      // Out of descriptors or the like: say so once, and wait for connections to close, longer
      // each time (10 ms doubling to 1 s) rather than spin on a failure that persists.
      if (failures++ == 0) FEDRA_LOG(kWarn) << "accept failed: " << ec.message() << "; retrying with backoff";
      net::steady_timer pause(strand_, std::chrono::milliseconds(std::min(1000, 10 << std::min(failures - 1, 7))));
      co_await pause.async_wait(kAsTuple);
      continue;
    }
    if (failures > 0) {
      FEDRA_LOG(kInfo) << "accepting connections again after " << failures << " failed attempt(s)";
      failures = 0;
    }
    auto executor = socket.get_executor();
    net::co_spawn(executor, serve(std::move(socket)), LogEscapedException);
  }
}

Status WriteReadyFile(const std::filesystem::path& path, uint16_t port) {
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp);
    out << port << "\n";
    if (!out) return Unavailable("cannot write ready file " + tmp.string());
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return Unavailable("cannot write ready file " + path.string() + ": " + ec.message());
  return Status::Ok();
}

}  // namespace fedra
