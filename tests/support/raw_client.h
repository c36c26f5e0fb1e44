// A deliberately low-level TLS client for tests that misbehave on purpose: it sends whatever
// bytes it is given, with whatever certificate (or none), and reads frames with a socket-level
// timeout so that a test can never hang on a site.
#pragma once

#include <chrono>
#include <memory>
#include <optional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>

#include "common/framing.h"
#include "common/tls.h"
#include "federated/protocol.h"

namespace fedra::testing {

class RawClient {
 public:
  // `files` empty cert/key: present no client certificate (still trusting `files.ca`).
  RawClient(const TlsFiles& files, uint16_t port,
            std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // Connects and completes the TLS handshake; the status says why not.
  Status Connect();
  Status Send(std::span<const uint8_t> bytes);
  Status SendFrame(FrameKind kind, std::span<const uint8_t> body);
  // Reads one frame (kUnavailable when the site closed the connection).
  Result<Frame> ReadFrame(uint64_t max_body = 1ull << 32);
  // Sends a batch and decodes the answer; a kError frame becomes its Status.
  Result<ResponseBatch> Call(const RequestBatch& batch);
  // Half-closes our side's TCP sending direction (after a partial message).
  void ShutdownSend();

 private:
  Status ReadExactly(void* data, size_t n);

  uint16_t port_;
  std::chrono::milliseconds timeout_;
  boost::asio::io_context io_;
  boost::asio::ssl::context ctx_;
  std::unique_ptr<boost::asio::ssl::stream<boost::asio::ip::tcp::socket>> stream_;
};

}  // namespace fedra::testing
