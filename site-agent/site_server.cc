#include "site-agent/site_server.h"

#include <algorithm>
#include <array>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/as_tuple.h"
#include "common/framing.h"
#include "common/logging.h"
#include "common/tls.h"

namespace fedra {
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

constexpr int kIoThreads = 2;

// Closes after an error reply without losing it: closing a socket with unread input makes the
// kernel send a reset, which can destroy the reply before the peer reads it. So stop sending,
// then discard what the peer still sends until it closes or a short deadline passes.
net::awaitable<void> LingeringClose(TlsStream& stream) {
  auto& tcp = boost::beast::get_lowest_layer(stream);
  boost::system::error_code ec;
  tcp.socket().shutdown(tcp::socket::shutdown_send, ec);
  tcp.expires_after(std::chrono::seconds(2));
  std::array<char, 4096> sink;
  for (;;) {
    auto [read_ec, n] = co_await tcp.async_read_some(net::buffer(sink), kAsTuple);
    if (read_ec) co_return;
  }
}

std::string RemoteAddress(const tcp::socket& socket) {
  boost::system::error_code ec;
  const auto ep = socket.remote_endpoint(ec);
  return ec ? std::string("unknown peer") : ep.address().to_string() + ":" + std::to_string(ep.port());
}

}  // namespace

SiteServer::SiteServer(SiteConfig config)
    : config_(std::move(config)), compute_(std::max(1u, std::thread::hardware_concurrency())) {}

SiteServer::~SiteServer() {
  if (listener_) Stop();
  compute_.join();
}

Result<std::unique_ptr<SiteServer>> SiteServer::Create(SiteConfig config) {
  std::unique_ptr<SiteServer> server(new SiteServer(std::move(config)));
  SiteConfig& c = server->config_;
  FEDRA_ASSIGN_OR_RETURN(server->tls_, MakeTlsContext(c.tls, TlsSide::kServer));
  if (c.allowed_masters.empty()) {
    FEDRA_LOG(kWarn) << "allowed_masters is empty: this site will refuse every master; list the masters that may "
                        "connect (their certificate names) in site.json";
  }
  FEDRA_ASSIGN_OR_RETURN(server->agent_, SiteAgent::Open(c));
  FEDRA_ASSIGN_OR_RETURN(server->listener_, Listener::Bind(c.listen_address, c.listen_port));
  return server;
}

void SiteServer::Run(bool handle_signals) {
  FEDRA_LOG(kInfo) << "listening on " << config_.listen_address << ":" << port()
                   << " (TLS 1.3, client certificates required)";
  listener_->Run(kIoThreads, handle_signals, [this](tcp::socket socket) { return Serve(std::move(socket)); });
  compute_.join();
  FEDRA_LOG(kInfo) << "stopped";
}

void SiteServer::Stop() { listener_->Stop(); }

net::awaitable<void> SiteServer::Serve(tcp::socket socket) {
  const std::string remote = RemoteAddress(socket);
  boost::system::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  TlsStream stream(std::move(socket), *tls_);
  const SiteLimits& limits = config_.limits;
  const Duration read_timeout = std::chrono::seconds(limits.read_timeout_s);

  auto refuse = [&](const std::string& why) {
    FEDRA_LOG(kWarn) << "refused connection from " << remote << ": " << why;
    (void)agent_->audit().Append(AuditEvent{remote, "connect", "", {}, 0, AuditOutcome::kRefused, why, {}});
  };

  boost::beast::get_lowest_layer(stream).expires_after(read_timeout);
  auto [hs_ec] = co_await stream.async_handshake(net::ssl::stream_base::server, kAsTuple);
  if (hs_ec) {
    refuse("TLS handshake: " + hs_ec.message());
    co_return;
  }
  Result<PeerIdentity> peer = PeerIdentityOf(stream.native_handle());
  Status allowed = peer.ok() ? CheckPeer(*peer, "master", "") : peer.status();
  // An explicit allow-list: an empty one admits no master, not every master the CA signed.
  if (allowed.ok() && std::find(config_.allowed_masters.begin(), config_.allowed_masters.end(), peer->name) ==
                          config_.allowed_masters.end()) {
    allowed = PermissionDenied(peer->ToString() + " is not in this site's allowed_masters" +
                               (config_.allowed_masters.empty() ? " (the list is empty: no master may connect)" : ""));
  }
  if (!allowed.ok()) {
    refuse(allowed.message());
    const Bytes body = EncodeErrorBody(allowed);
    if ((co_await WriteFrame(stream, FrameKind::kError, body, read_timeout)).ok()) {
      co_await LingeringClose(stream);
    }
    co_return;
  }
  FEDRA_LOG(kInfo) << peer->ToString() << " connected from " << remote;

  const ReadLimits read_limits{limits.max_message_bytes, std::chrono::seconds(limits.idle_timeout_s), read_timeout};
  for (;;) {
    Result<Frame> frame = co_await ReadFrame(stream, read_limits);
    if (!frame.ok()) {
      const StatusCode code = frame.status().code();
      if (code == StatusCode::kUnavailable && frame.status().message().find("closed by peer") != std::string::npos) {
        FEDRA_LOG(kInfo) << peer->ToString() << " disconnected";
        co_return;
      }
      FEDRA_LOG(kWarn) << peer->ToString() << ": " << frame.status().message() << "; closing the connection";
      (void)agent_->audit().Append(
          AuditEvent{peer->ToString(), "message", "", {}, 0, AuditOutcome::kFailed, frame.status().ToString(), {}});
      if (code == StatusCode::kDataLoss || code == StatusCode::kResourceExhausted) {
        // The stream is still in step (only the header was read): say why before closing.
        const Bytes body = EncodeErrorBody(frame.status());
        if ((co_await WriteFrame(stream, FrameKind::kError, body, read_timeout)).ok()) {
          co_await LingeringClose(stream);
        }
      }
      co_return;
    }
    if (frame->kind != FrameKind::kRequestBatch) {
      const Status s = DataLoss("expected a request batch");
      const Bytes body = EncodeErrorBody(s);
      (void)co_await WriteFrame(stream, FrameKind::kError, body, read_timeout);
      continue;
    }

    // Decoding and execution run on the compute pool; this coroutine resumes on its strand.
    const PeerIdentity& who = *peer;
    struct Reply {
      FrameKind kind = FrameKind::kError;
      Bytes body;
    };
    auto work = [this, &frame, &who]() -> net::awaitable<Reply> {
      RequestBatch batch;
      Status decoded = DecodeRequestBatch(frame->body, &batch);
      if (!decoded.ok()) {
        (void)agent_->audit().Append(
            AuditEvent{who.ToString(), "batch", "", {}, 0, AuditOutcome::kFailed, decoded.ToString(), {}});
        co_return Reply{FrameKind::kError, EncodeErrorBody(decoded.WithContext("malformed request batch"))};
      }
      frame->body = Bytes();  // free the request before building the response
      co_return Reply{FrameKind::kResponseBatch, EncodeResponseBatch(agent_->Execute(batch, who))};
    };
    const Reply reply = co_await net::co_spawn(compute_, work(), net::use_awaitable);
    Status written = co_await WriteFrame(stream, reply.kind, reply.body, read_timeout);
    if (!written.ok()) {
      FEDRA_LOG(kWarn) << peer->ToString() << ": " << written.message();
      co_return;
    }
  }
}

}  // namespace fedra
