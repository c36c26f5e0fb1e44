#include "master/api/rest_server.h"

#include <array>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "common/as_tuple.h"
#include "common/logging.h"
#include "common/tls.h"

namespace fedra {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

constexpr int kIoThreads = 2;
constexpr int kHandlerThreads = 4;
constexpr uint32_t kMaxHeaderBytes = 16 * 1024;
// After refusing a request: how long and how much of the rest of it to read and discard.
constexpr auto kDrainTime = std::chrono::seconds(5);
constexpr size_t kMaxDrainBytes = 256 << 20;

using HttpsStream = beast::ssl_stream<beast::tcp_stream>;

http::response<http::string_body> MakeResponse(const ApiResponse& r, unsigned version, bool keep_alive) {
  http::response<http::string_body> res{static_cast<http::status>(r.status), version};
  res.set(http::field::server, "fedra-master");
  res.set(http::field::content_type, r.content_type);
  res.set(http::field::cache_control, "no-store");
  res.set("X-Content-Type-Options", "nosniff");
  // The dashboard loads only its own files and talks only to this server.
  res.set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'");
  res.keep_alive(keep_alive);
  res.body() = r.body;
  res.prepare_payload();
  return res;
}

}  // namespace

RestServer::RestServer(const RestServerOptions& options, RestApi& api, const StaticFiles* web)
    : options_(options), api_(api), web_(web), handlers_(kHandlerThreads) {}

ApiResponse RestServer::Handle(const ApiRequest& request) const {
  const std::string_view path = std::string_view(request.target).substr(0, request.target.find('?'));
  if (path.starts_with("/api/")) return api_.Handle(request);
  if (request.method != "GET") return ErrorResponse(NotFound("no resource at " + std::string(path)));
  const StaticFile* file = web_ ? web_->Find(path) : nullptr;
  if (!file) {
    return ErrorResponse(NotFound(web_
                                      ? "no file at " + std::string(path)
                                      : std::string("this master serves no dashboard (see fedra-master serve --web)")));
  }
  return ApiResponse{200, file->content_type, file->bytes};
}

RestServer::~RestServer() {
  if (listener_) Stop();
  handlers_.join();
}

Result<std::unique_ptr<RestServer>> RestServer::Create(const RestServerOptions& options, const TlsFiles& tls,
                                                       RestApi& api, const StaticFiles* web) {
  std::unique_ptr<RestServer> server(new RestServer(options, api, web));
  FEDRA_ASSIGN_OR_RETURN(server->tls_, MakeTlsContext(tls, TlsSide::kHttpsServer));
  FEDRA_ASSIGN_OR_RETURN(server->listener_, Listener::Bind(options.address, options.port));
  return server;
}

void RestServer::Run(bool handle_signals) {
  listener_->Run(kIoThreads, handle_signals, [this](tcp::socket socket) { return Serve(std::move(socket)); });
}

void RestServer::Stop() { listener_->Stop(); }

namespace {

// Whether the request has no Transfer-Encoding, or exactly "chunked" (any case, spaces around).
bool IsPlainChunked(const http::request<http::string_body>& req) {
  const auto field = req.find(http::field::transfer_encoding);
  if (field == req.end()) return true;
  std::string_view v = field->value();
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return beast::iequals(v, "chunked") && req.count(http::field::transfer_encoding) == 1;
}

}  // namespace

net::awaitable<void> RestServer::Serve(tcp::socket socket) {
  HttpsStream stream(std::move(socket), *tls_);
  auto& tcp_layer = beast::get_lowest_layer(stream);
  tcp_layer.expires_after(options_.read_timeout);
  if (auto [ec] = co_await stream.async_handshake(net::ssl::stream_base::server, kAsTuple); ec) co_return;

  beast::flat_buffer buffer;
  for (bool first = true;; first = false) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(kMaxHeaderBytes);
    parser.body_limit(options_.max_body_bytes);
    // Waiting for the next request on a kept-alive connection may take the idle time; once it
    // starts, the whole request must arrive within the read timeout.
    tcp_layer.expires_after(first ? options_.read_timeout : options_.idle_timeout);
    auto [header_ec, header_bytes] = co_await http::async_read_header(stream, buffer, parser, kAsTuple);
    if (header_ec == http::error::end_of_stream || header_ec == net::error::eof || header_ec == beast::error::timeout)
      break;
    Status refused;
    if (!header_ec && !IsPlainChunked(parser.get())) {
      // Beast reads a body only when "chunked" is the last coding; anything else would leave the
      // body to be parsed as the next request (request smuggling).
      refused = InvalidArgument("unsupported Transfer-Encoding \"" +
                                std::string(parser.get()[http::field::transfer_encoding]) +
                                "\" (only \"chunked\", or a Content-Length)");
    } else if (!header_ec) {
      tcp_layer.expires_after(options_.read_timeout);
      auto [body_ec, body_bytes] = co_await http::async_read(stream, buffer, parser, kAsTuple);
      if (body_ec == http::error::body_limit) {
        refused = ResourceExhausted("the request body is over the limit of " + std::to_string(options_.max_body_bytes) +
                                    " bytes");
      } else if (body_ec) {
        refused = InvalidArgument("malformed request: " + body_ec.message());
      }
    } else if (header_ec == http::error::body_limit) {
      refused = ResourceExhausted("the request body is over the limit of " + std::to_string(options_.max_body_bytes) +
                                  " bytes");
    } else if (header_ec == http::error::header_limit) {
      refused =
          ResourceExhausted("the request headers are over the limit of " + std::to_string(kMaxHeaderBytes) + " bytes");
    } else {
      refused = InvalidArgument("malformed request: " + header_ec.message());
    }
    if (!refused.ok()) {
      // Answer, then close. Closing with unread input would make the kernel reset the
      // connection, which can destroy the answer before a client still sending reads it, so
      // first read and discard what it sends, within a deadline and a byte cap.
      auto res = MakeResponse(ErrorResponse(refused), 11, false);
      tcp_layer.expires_after(options_.read_timeout);
      co_await http::async_write(stream, res, kAsTuple);
      tcp_layer.expires_after(kDrainTime);
      std::array<char, 16384> sink;
      for (size_t drained = 0; drained < kMaxDrainBytes;) {
        auto [drain_ec, n] = co_await stream.async_read_some(net::buffer(sink), kAsTuple);
        if (drain_ec) break;
        drained += n;
      }
      break;
    }
    const auto& req = parser.get();
    ApiRequest request{std::string(req.method_string()), std::string(req.target()),
                       std::string(req[http::field::authorization]), req.body()};
    // Handle on the pool; the coroutine resumes on this connection's strand.
    ApiResponse response = co_await net::co_spawn(
        handlers_, [this, &request]() -> net::awaitable<ApiResponse> { co_return Handle(request); },
        net::use_awaitable);
    auto res = MakeResponse(response, req.version(), req.keep_alive());
    tcp_layer.expires_after(options_.read_timeout);
    auto [write_ec, written] = co_await http::async_write(stream, res, kAsTuple);
    if (write_ec || !res.keep_alive()) break;
  }
  tcp_layer.expires_after(std::chrono::seconds(2));
  co_await stream.async_shutdown(kAsTuple);
}

}  // namespace fedra
