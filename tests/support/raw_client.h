// A deliberately low-level TLS client for tests that misbehave on purpose: it sends whatever
// bytes it is given, with whatever certificate (or none), and reads frames with a socket-level
// timeout so that a test can never hang on a site. MasterSession speaks requests through it.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

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
  RawClient(const TlsFiles& files, uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // Connects and completes the TLS handshake; the status says why not.
  Status Connect();
  Status Send(std::span<const uint8_t> bytes);
  Status SendFrame(FrameKind kind, std::span<const uint8_t> body, uint64_t id = 1);
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

// A master's session with one site over a RawClient, for tests that send what fedra's own master
// never would: numbered batches and fresh variable ids. A broken connection or a failed read or
// put fails the test.
class MasterSession {
 public:
  MasterSession(const TlsFiles& master, uint16_t port);

  std::vector<Response> Send(std::vector<Request> requests);
  Response One(Request q);
  // Reads `columns` (all when empty) of `dataset` into a new variable.
  VarId Read(const std::string& dataset, std::vector<std::string> columns = {});
  // Puts `m` into a new variable.
  VarId Put(Matrix m);
  // A variable id not used before in this session.
  VarId NewId() { return next_++; }

 private:
  RawClient client_;
  VarId next_ = 1000;
};

}  // namespace fedra::testing
