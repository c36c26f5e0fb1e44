#include "tests/support/https_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace fedra::testing {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

struct HttpsClient::Connection {
  net::io_context io;
  net::ssl::context tls{net::ssl::context::tls_client};
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> stream;
  beast::flat_buffer buffer;
};

HttpsClient::HttpsClient(const std::filesystem::path& ca, uint16_t port, std::string token,
                         std::chrono::seconds timeout)
    : ca_(ca), port_(port), token_(std::move(token)), timeout_(timeout) {}

HttpsClient::~HttpsClient() = default;

Status HttpsClient::Connect() {
  conn_ = std::make_unique<Connection>();
  boost::system::error_code ec;
  conn_->tls.load_verify_file(ca_.string(), ec);
  if (ec) return Internal("loading " + ca_.string() + ": " + ec.message());
  conn_->tls.set_verify_mode(net::ssl::verify_peer);
  conn_->stream = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(conn_->io, conn_->tls);
  SSL_set1_host(conn_->stream->native_handle(), "localhost");
  SSL_set_tlsext_host_name(conn_->stream->native_handle(), "localhost");
  auto& tcp = beast::get_lowest_layer(*conn_->stream);
  tcp.expires_after(timeout_);
  tcp.connect(net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), port_), ec);
  if (ec) return Unavailable("connecting: " + ec.message());
  conn_->stream->handshake(net::ssl::stream_base::client, ec);
  if (ec) return Unavailable("TLS handshake: " + ec.message());
  return Status::Ok();
}

Result<HttpReply> HttpsClient::Request(const std::string& method, const std::string& target, const std::string& body) {
  return Request(method, target, body, {});
}

Result<HttpReply> HttpsClient::Request(const std::string& method, const std::string& target, const std::string& body,
                                       const std::vector<std::pair<std::string, std::string>>& fields) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!conn_) FEDRA_RETURN_IF_ERROR(Connect());
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, "localhost");
    if (!token_.empty()) req.set(http::field::authorization, "Bearer " + token_);
    if (!body.empty()) req.set(http::field::content_type, "application/json");
    req.body() = body;
    bool framed = false;
    for (const auto& [name, value] : fields) {
      req.set(name, value);
      framed = framed || beast::iequals(name, "transfer-encoding");
    }
    if (!framed) req.prepare_payload();
    req.keep_alive(true);
    boost::system::error_code ec;
    beast::get_lowest_layer(*conn_->stream).expires_after(timeout_);
    http::write(*conn_->stream, req, ec);
    http::response<http::string_body> res;
    if (!ec) http::read(*conn_->stream, conn_->buffer, res, ec);
    if (ec) {
      conn_.reset();
      // A kept-alive connection the server closed meanwhile: try once on a fresh one.
      if (attempt == 0 &&
          (ec == http::error::end_of_stream || ec == net::error::eof || ec == net::ssl::error::stream_truncated ||
           ec == net::error::connection_reset || ec == net::error::broken_pipe)) {
        continue;
      }
      return Unavailable(method + " " + target + ": " + ec.message());
    }
    if (!res.keep_alive()) conn_.reset();
    return HttpReply{static_cast<int>(res.result_int()), std::string(res[http::field::content_type]), res.body()};
  }
  return Unavailable(method + " " + target + ": the server keeps closing the connection");
}

}  // namespace fedra::testing
