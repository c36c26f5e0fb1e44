#include "site-agent/site_server.h"

#include <algorithm>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>

#include "common/as_tuple.h"
#include "common/logging.h"
#include "common/message_link.h"
#include "common/tls.h"

namespace fedra {
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

// One: a connection's socket must be driven by the thread that also polls it. TlsChannel waits for
// readiness after OpenSSL's own read or write came up short, and with edge-triggered polling a
// second thread could consume the edge in between and leave the wait hanging. Computation runs
// on the compute pool, so one I/O thread only encrypts and decrypts.
constexpr int kIoThreads = 1;
constexpr auto kLinger = std::chrono::seconds(2);

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
  const SiteLimits& limits = config_.limits;
  const Duration read_timeout = std::chrono::seconds(limits.read_timeout_s);
  auto channel = std::make_unique<TlsChannel>(std::move(socket), tls_->native_handle(), TlsChannel::Side::kServer);

  auto refuse = [&](const std::string& why) {
    FEDRA_LOG(kWarn) << "refused connection from " << remote << ": " << why;
    (void)agent_->audit().Append(AuditEvent{remote, "connect", "", {}, 0, AuditOutcome::kRefused, why, {}});
  };

  if (Status shaken = co_await channel->Handshake(DeadlineAfter(read_timeout)); !shaken.ok()) {
    refuse(shaken.message());
    co_return;
  }
  Result<PeerIdentity> peer = PeerIdentityOf(channel->native_handle());
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
    if ((co_await WriteFrame(*channel, FrameKind::kError, 0, body, DeadlineAfter(read_timeout))).ok()) {
      co_await channel->LingeringClose(kLinger);
    }
    co_return;
  }
  const PeerIdentity who = *peer;
  FEDRA_LOG(kInfo) << who.ToString() << " connected from " << remote;

  auto link = std::make_shared<MessageLink>(std::move(channel), LinkOptions{who.ToString(),
                                                                            limits.max_message_bytes,
                                                                            kValueChunkBytes,
                                                                            std::chrono::seconds(limits.idle_timeout_s),
                                                                            read_timeout,
                                                                            {}});
  // Answers go out on the link's strand, whichever thread computed them.
  auto answer = [link](FrameKind kind, uint64_t id, std::shared_ptr<const ResponseBatch> keep, Bytes head,
                       OutgoingValues values) {
    net::co_spawn(
        link->channel().socket().get_executor(),
        [link, kind, id, keep = std::move(keep), head = std::move(head),
         values = std::move(values)]() mutable -> net::awaitable<void> {
          // Named, not a temporary in the co_await: GCC 12 destroys such a temporary twice.
          OutgoingMessage message{kind, id, std::move(head), std::move(values)};
          Status sent = co_await link->Send(std::move(message));
          if (!sent.ok()) FEDRA_LOG(kWarn) << sent.message();
          if (kind == FrameKind::kResponseBatch) link->EndWork();  // the batch's work is done
        },
        net::detached);
  };
  auto on_head = [&](const FrameHeader& header, Bytes head) -> Result<IncomingMessage> {
    if (header.kind != FrameKind::kRequestBatch) {
      answer(FrameKind::kError, header.id, nullptr, EncodeErrorBody(DataLoss("expected a request batch")), {});
      return IncomingMessage{};
    }
    auto batch = std::make_shared<RequestBatch>();
    IncomingValues values;
    values.max_bytes = limits.memory_budget_bytes;  // more could not be held anyway
    Status decoded = DecodeRequestBatch(head, batch.get(), &values);
    if (decoded.ok() && batch->id != header.id) {
      decoded = DataLoss("batch " + std::to_string(batch->id) + " came in message " + std::to_string(header.id));
    }
    if (!decoded.ok()) {
      (void)agent_->audit().Append(
          AuditEvent{who.ToString(), "batch", "", {}, 0, AuditOutcome::kFailed, decoded.ToString(), {}});
      // The link drops the values it declared.
      answer(FrameKind::kError, header.id, nullptr, EncodeErrorBody(decoded.WithContext("malformed request batch")),
             {});
      return IncomingMessage{};
    }
    // Once its values are in, the batch runs on the compute pool, never on an I/O thread; only a
    // liveness check (pings alone), which touches no data, is answered here, without the hop
    // there and back.
    auto execute = [this, batch, who, answer, id = header.id] {
      auto response = std::make_shared<const ResponseBatch>(agent_->Execute(std::move(*batch), who));
      OutgoingValues out;
      Bytes head = EncodeResponseBatch(*response, &out);
      answer(FrameKind::kResponseBatch, id, response, std::move(head), std::move(out));
    };
    const bool liveness = std::all_of(batch->requests.begin(), batch->requests.end(),
                                      [](const Request& q) { return q.type == RequestType::kPing; });
    auto run = [this, link, execute, liveness](Status arrived) {
      if (!arrived.ok()) return;  // the link ended; there is nobody to answer
      link->BeginWork();
      if (liveness) {
        execute();
      } else {
        net::post(compute_, execute);
      }
    };
    return IncomingMessage{std::move(values.spans), std::move(run)};
  };

  const Status ended = co_await link->Receive(on_head);
  const StatusCode code = ended.code();
  if (code == StatusCode::kUnavailable && ended.message().find("closed by peer") != std::string::npos) {
    FEDRA_LOG(kInfo) << who.ToString() << " disconnected";
    co_return;
  }
  FEDRA_LOG(kWarn) << who.ToString() << ": " << ended.message() << "; closing the connection";
  (void)agent_->audit().Append(
      AuditEvent{who.ToString(), "message", "", {}, 0, AuditOutcome::kFailed, ended.ToString(), {}});
  if (code == StatusCode::kDataLoss || code == StatusCode::kResourceExhausted) {
    // The peer is out of step, but the connection still works: say why before closing.
    OutgoingMessage why{FrameKind::kError, 0, EncodeErrorBody(ended), {}};
    if ((co_await link->Send(std::move(why))).ok()) {
      co_await link->channel().LingeringClose(kLinger);
    }
  }
  link->Close();
}

}  // namespace fedra
