#include "tests/support/fault_proxy.h"

#include <atomic>
#include <deque>
#include <future>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include "common/as_tuple.h"

namespace fedra::testing {
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

struct FaultProxy::State {
  std::atomic<int64_t> latency_ms{0};
  std::atomic<uint64_t> bytes_per_second{0};
  std::atomic<bool> stalled{false}, partitioned{false};
  std::atomic<uint64_t> connections{0};

  net::io_context io;
  tcp::acceptor acceptor{io};
  tcp::endpoint target;
  std::vector<std::weak_ptr<tcp::socket>> sockets;  // every one opened, for resets
  std::vector<std::shared_ptr<tcp::socket>> held;   // accepted while partitioned

  bool holding() const { return stalled || partitioned; }
};

namespace {

// One direction of one connection: what was read, each piece with the time it may be written.
struct Pipe {
  struct Chunk {
    Clock::time_point due;
    std::vector<uint8_t> bytes;
  };
  explicit Pipe(net::io_context& io) : wake(io, Clock::time_point::max()) {}
  std::deque<Chunk> chunks;
  bool closed = false;
  net::steady_timer wake;  // cancelled when a chunk arrives or the reader stops
};

// Reads as fast as the sender sends, so that latency delays bytes rather than serialising them.
net::awaitable<void> ReadInto(FaultProxy::State* state, std::shared_ptr<tcp::socket> from, std::shared_ptr<Pipe> pipe) {
  std::vector<uint8_t> buffer(64 << 10);
  for (;;) {
    auto [ec, n] = co_await from->async_read_some(net::buffer(buffer), kAsTuple);
    if (ec) break;
    const auto due = Clock::now() + std::chrono::milliseconds(state->latency_ms.load());
    pipe->chunks.push_back({due, std::vector<uint8_t>(buffer.begin(), buffer.begin() + static_cast<ptrdiff_t>(n))});
    pipe->wake.cancel();
  }
  pipe->closed = true;
  pipe->wake.cancel();
}

net::awaitable<void> WriteFrom(FaultProxy::State* state, std::shared_ptr<Pipe> pipe, std::shared_ptr<tcp::socket> to,
                               std::shared_ptr<tcp::socket> from) {
  net::steady_timer timer(state->io);
  for (;;) {
    if (pipe->chunks.empty()) {
      if (pipe->closed) break;
      pipe->wake.expires_at(Clock::time_point::max());
      co_await pipe->wake.async_wait(kAsTuple);
      continue;
    }
    timer.expires_at(pipe->chunks.front().due);
    co_await timer.async_wait(kAsTuple);
    while (state->holding()) {  // a stall or partition: poll for its end
      timer.expires_after(std::chrono::milliseconds(5));
      co_await timer.async_wait(kAsTuple);
    }
    const Pipe::Chunk chunk = std::move(pipe->chunks.front());
    pipe->chunks.pop_front();
    auto [ec, n] = co_await net::async_write(*to, net::buffer(chunk.bytes), kAsTuple);
    if (ec) {
      boost::system::error_code ignored;
      from->close(ignored);  // the other side is gone: so is this connection
      co_return;
    }
    if (const uint64_t rate = state->bytes_per_second; rate > 0) {
      timer.expires_after(std::chrono::microseconds(n * 1'000'000 / rate));
      co_await timer.async_wait(kAsTuple);
    }
  }
  boost::system::error_code ignored;
  to->shutdown(tcp::socket::shutdown_send, ignored);  // pass the sender's end on
}

void Forward(FaultProxy::State* state, std::shared_ptr<tcp::socket> from, std::shared_ptr<tcp::socket> to) {
  auto pipe = std::make_shared<Pipe>(state->io);
  net::co_spawn(state->io, ReadInto(state, from, pipe), net::detached);
  net::co_spawn(state->io, WriteFrom(state, pipe, to, from), net::detached);
}

net::awaitable<void> Accept(FaultProxy::State* state) {
  for (;;) {
    auto client = std::make_shared<tcp::socket>(state->io);
    auto [ec] = co_await state->acceptor.async_accept(*client, kAsTuple);
    if (ec == net::error::operation_aborted) co_return;
    if (ec) continue;
    ++state->connections;
    state->sockets.push_back(client);
    if (state->partitioned) {
      state->held.push_back(client);
      continue;
    }
    auto server = std::make_shared<tcp::socket>(state->io);
    auto [cec] = co_await server->async_connect(state->target, kAsTuple);
    if (cec) {  // the site is down: so is the connection through the proxy
      boost::system::error_code ignored;
      client->close(ignored);
      continue;
    }
    state->sockets.push_back(server);
    Forward(state, client, server);
    Forward(state, server, client);
  }
}

}  // namespace

FaultProxy::FaultProxy(const std::string& target_host, uint16_t target_port) : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.target = tcp::endpoint(net::ip::make_address(target_host), target_port);
  const tcp::endpoint listen(net::ip::make_address("127.0.0.1"), 0);
  s.acceptor.open(listen.protocol());
  s.acceptor.bind(listen);
  s.acceptor.listen();
  port_ = s.acceptor.local_endpoint().port();
  net::co_spawn(s.io, Accept(&s), net::detached);
  io_thread_ = std::thread([&s] { s.io.run(); });
}

FaultProxy::~FaultProxy() {
  state_->io.stop();
  io_thread_.join();
}

template <typename F>
void FaultProxy::OnProxyThread(F f) {
  std::promise<void> done;
  net::post(state_->io, [&] {
    f(*state_);
    done.set_value();
  });
  done.get_future().wait();
}

void FaultProxy::SetLatency(std::chrono::milliseconds one_way) { state_->latency_ms = one_way.count(); }
void FaultProxy::SetBandwidth(uint64_t bytes_per_second) { state_->bytes_per_second = bytes_per_second; }
void FaultProxy::SetStalled(bool stalled) { state_->stalled = stalled; }
uint64_t FaultProxy::connections() const { return state_->connections; }

void FaultProxy::SetPartitioned(bool partitioned) {
  state_->partitioned = partitioned;
  if (partitioned) return;
  OnProxyThread([](State& s) {
    boost::system::error_code ignored;
    for (auto& socket : s.held) socket->close(ignored);
    s.held.clear();
  });
}

void FaultProxy::ResetConnections() {
  OnProxyThread([](State& s) {
    for (const std::weak_ptr<tcp::socket>& weak : s.sockets) {
      const std::shared_ptr<tcp::socket> socket = weak.lock();
      if (!socket || !socket->is_open()) continue;
      boost::system::error_code ignored;
      socket->set_option(net::socket_base::linger(true, 0), ignored);  // close sends RST
      socket->close(ignored);
    }
    s.sockets.clear();
    s.held.clear();
  });
}

}  // namespace fedra::testing
