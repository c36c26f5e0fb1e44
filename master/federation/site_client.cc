#include "master/federation/site_client.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/as_tuple.h"
#include "common/logging.h"
#include "common/tls.h"

namespace fedra {
namespace net = boost::asio;
namespace {

std::string Seconds(Duration d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(d).count()) + " s";
}

}  // namespace

SiteClient::SiteClient(net::io_context& io, std::shared_ptr<net::ssl::context> tls, SiteAddress site,
                       const FederationConfig& config)
    : strand_(net::make_strand(io)),
      tls_(std::move(tls)),
      site_(std::move(site)),
      connect_timeout_(config.connect_timeout),
      call_timeout_(config.call_timeout),
      max_message_bytes_(config.max_message_bytes) {}

net::awaitable<Status> SiteClient::Connect() {
  stream_.reset();
  auto stream = std::make_unique<TlsStream>(strand_, *tls_);
  auto& tcp = boost::beast::get_lowest_layer(*stream);

  net::ip::tcp::resolver resolver(strand_);
  auto [rec, endpoints] = co_await resolver.async_resolve(site_.host, std::to_string(site_.port), kAsTuple);
  if (rec) co_return Unavailable("cannot resolve " + site_.host + ": " + rec.message());

  tcp.expires_after(connect_timeout_);
  auto [cec, ep] = co_await tcp.async_connect(endpoints, kAsTuple);
  if (cec) {
    if (cec == boost::beast::error::timeout)
      co_return DeadlineExceeded("no connection within " + Seconds(connect_timeout_));
    co_return Unavailable("cannot connect: " + cec.message());
  }
  boost::system::error_code ignored;
  tcp.socket().set_option(net::ip::tcp::no_delay(true), ignored);
  tcp.expires_after(connect_timeout_);
  auto [hec] = co_await stream->async_handshake(net::ssl::stream_base::client, kAsTuple);
  if (hec) {
    if (hec == boost::beast::error::timeout)
      co_return DeadlineExceeded("no TLS handshake within " + Seconds(connect_timeout_));
    // A handshake the TLS layer rejected (a certificate, a protocol) is an authentication
    // failure; a site that went away during it (reset, closed) is only unreachable for now.
    if (hec.category() == net::error::get_ssl_category()) co_return Unauthenticated("TLS handshake: " + hec.message());
    co_return Unavailable("TLS handshake: " + hec.message());
  }
  Result<PeerIdentity> peer = PeerIdentityOf(stream->native_handle());
  if (!peer.ok()) co_return peer.status();
  FEDRA_CO_RETURN_IF_ERROR(CheckPeer(*peer, "site", site_.name));
  stream_ = std::move(stream);
  FEDRA_LOG(kDebug) << "connected to " << site_.ToString();
  co_return Status::Ok();
}

net::awaitable<Result<ResponseBatch>> SiteClient::Exchange(const RequestBatch& batch, const Bytes& body) {
  Status written = co_await WriteFrame(*stream_, FrameKind::kRequestBatch, body, call_timeout_);
  if (!written.ok()) co_return written;
  const ReadLimits limits{max_message_bytes_, call_timeout_, call_timeout_};
  Result<Frame> frame = co_await ReadFrame(*stream_, limits);
  if (!frame.ok()) {
    if (frame.status().code() == StatusCode::kDeadlineExceeded) {
      co_return DeadlineExceeded("no answer within " + Seconds(call_timeout_));
    }
    co_return frame.status();
  }
  if (frame->kind == FrameKind::kError) co_return DecodeErrorBody(frame->body);
  if (frame->kind != FrameKind::kResponseBatch) co_return DataLoss("unexpected message kind from site");
  ResponseBatch responses;
  FEDRA_CO_RETURN_IF_ERROR(DecodeResponseBatch(frame->body, &responses).WithContext("malformed response"));
  if (responses.id != batch.id || responses.responses.size() != batch.requests.size()) {
    co_return DataLoss("response batch " + std::to_string(responses.id) + " with " +
                       std::to_string(responses.responses.size()) + " responses does not answer batch " +
                       std::to_string(batch.id) + " of " + std::to_string(batch.requests.size()));
  }
  co_return responses;
}

net::awaitable<Result<ResponseBatch>> SiteClient::Call(const RequestBatch& batch) {
  const Bytes body = EncodeRequestBatch(batch);
  Result<ResponseBatch> result = Status(StatusCode::kInternal, "not sent");
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool reused = stream_ != nullptr;
    if (!stream_) {
      Status connected = co_await Connect();
      if (!connected.ok()) co_return connected.WithContext(site_.ToString());
    }
    result = co_await Exchange(batch, body);
    if (result.ok()) co_return result;
    stream_.reset();  // a failed exchange leaves the stream out of step: start afresh next time
    // A reused connection may have died with a site restart: retry once on a fresh one.
    if (!(reused && result.status().code() == StatusCode::kUnavailable)) break;
    FEDRA_LOG(kInfo) << site_.ToString() << ": connection lost (" << result.status().message() << "), reconnecting";
  }
  co_return result.status().WithContext(site_.ToString());
}

}  // namespace fedra
