#include "master/federation/site_client.h"

#include <algorithm>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "common/as_tuple.h"
#include "common/logging.h"
#include "common/tls.h"

namespace fedra {
namespace net = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

std::string Seconds(Duration d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(d).count()) + " s";
}

}  // namespace

struct SiteClient::Pending {
  Pending(const net::any_io_executor& executor, const MessageLink* on)
      : link(on), wake(executor, Clock::time_point::max()) {}

  void Finish(Status s) {
    if (done) return;
    status = std::move(s);
    done = true;
    wake.cancel();
  }

  const MessageLink* link;
  ResponseBatch response;
  IncomingValues values;
  bool receiving = false;  // its head has arrived
  bool done = false;
  Status status;
  net::steady_timer wake;  // the call's deadline; cancelled when done
};

SiteClient::SiteClient(net::io_context& io, std::shared_ptr<net::ssl::context> tls, SiteAddress site,
                       const FederationConfig& config, TransferObserver on_transfer)
    : strand_(net::make_strand(io)),
      tls_(std::move(tls)),
      site_(std::move(site)),
      connect_timeout_(config.connect_timeout),
      call_timeout_(config.call_timeout),
      max_message_bytes_(config.max_message_bytes),
      max_value_bytes_(config.max_value_bytes),
      on_transfer_(std::move(on_transfer)),
      connected_(strand_, Clock::time_point::max()) {}

net::awaitable<Status> SiteClient::EnsureConnected() {
  while (connecting_) co_await connected_.async_wait(kAsTuple);
  if (link_) co_return Status::Ok();
  connecting_ = true;
  Status connected = co_await Connect();
  connecting_ = false;
  connected_.cancel();
  co_return connected;
}

net::awaitable<Status> SiteClient::Connect() {
  net::ip::tcp::resolver resolver(strand_);
  auto [rec, endpoints] = co_await resolver.async_resolve(site_.host, std::to_string(site_.port), kAsTuple);
  if (rec) co_return Unavailable("cannot resolve " + site_.host + ": " + rec.message());

  // The deadline's handler may already be queued when the connection completes: it shares the
  // socket and its verdict, and looks only while the attempt is still on.
  struct Attempt {
    explicit Attempt(const net::any_io_executor& executor) : socket(executor) {}
    net::ip::tcp::socket socket;
    bool over = false, timed_out = false;
  };
  auto attempt = std::make_shared<Attempt>(strand_);
  net::steady_timer deadline(strand_);
  deadline.expires_after(connect_timeout_);
  deadline.async_wait([attempt](const boost::system::error_code& ec) {
    if (ec || attempt->over) return;
    attempt->timed_out = true;
    boost::system::error_code ignored;
    attempt->socket.close(ignored);
  });
  auto [cec, ep] = co_await net::async_connect(attempt->socket, endpoints, kAsTuple);
  attempt->over = true;
  deadline.cancel();
  if (attempt->timed_out) co_return DeadlineExceeded("no connection within " + Seconds(connect_timeout_));
  if (cec) co_return Unavailable("cannot connect: " + cec.message());

  auto channel =
      std::make_unique<TlsChannel>(std::move(attempt->socket), tls_->native_handle(), TlsChannel::Side::kClient);
  Status shaken = co_await channel->Handshake(DeadlineAfter(connect_timeout_));
  if (!shaken.ok()) {
    if (shaken.code() == StatusCode::kDeadlineExceeded) {
      co_return DeadlineExceeded("no TLS handshake within " + Seconds(connect_timeout_));
    }
    co_return shaken;
  }
  Result<PeerIdentity> peer = PeerIdentityOf(channel->native_handle());
  if (!peer.ok()) co_return peer.status();
  FEDRA_CO_RETURN_IF_ERROR(CheckPeer(*peer, "site", site_.name));
  // No idle limit: the master keeps its links open between jobs. Within a frame, or between the
  // chunks of an answer, a call's deadline applies.
  link_ = std::make_shared<MessageLink>(
      std::move(channel), LinkOptions{site_.ToString(), max_message_bytes_, kValueChunkBytes, Duration::max(),
                                      call_timeout_, on_transfer_});
  net::co_spawn(strand_, ReceiveOn(link_), net::detached);
  FEDRA_LOG(kDebug) << "connected to " << site_.ToString();
  co_return Status::Ok();
}

net::awaitable<void> SiteClient::ReceiveOn(std::shared_ptr<MessageLink> link) {
  const MessageLink* on = link.get();
  Status ended = co_await link->Receive(
      [this, on](const FrameHeader& header, Bytes head) { return OnHead(on, header, std::move(head)); });
  if (link_ == link) link_.reset();
  link->Close();
  // Every call still waiting on this link learns why it will not be answered.
  for (auto& [id, pending] : pending_) {
    if (pending->link == on) pending->Finish(ended);
  }
}

Result<IncomingMessage> SiteClient::OnHead(const MessageLink* link, const FrameHeader& header, Bytes head) {
  auto it = pending_.find(header.id);
  const bool waited_for = it != pending_.end() && it->second->link == link && !it->second->receiving;
  if (header.kind == FrameKind::kError) {
    Status error = DecodeErrorBody(head);
    if (header.id == 0) return error;  // about the connection: it ends, and every call hears why
    if (waited_for) it->second->Finish(error);
    return IncomingMessage{};
  }
  if (header.kind != FrameKind::kResponseBatch) return DataLoss("unexpected message kind from site");
  if (!waited_for) {
    // The answer to a call that gave up waiting: its values are read and dropped.
    auto late = std::make_shared<Pending>(strand_, link);
    late->values.max_bytes = max_value_bytes_;
    if (!DecodeResponseBatch(head, &late->response, &late->values).ok()) return IncomingMessage{};  // dropped
    return IncomingMessage{late->values.spans, [late](Status) {}};
  }
  std::shared_ptr<Pending> pending = it->second;
  pending->values.max_bytes = max_value_bytes_;
  Status decoded = DecodeResponseBatch(head, &pending->response, &pending->values).WithContext("malformed response");
  if (!decoded.ok()) {
    pending->Finish(decoded);
    return IncomingMessage{};  // the link drops the values it declared
  }
  pending->receiving = true;
  // The answer has begun: its values may take longer than the call's deadline, which was for the
  // site to answer; the link's deadline between chunks now guards the rest.
  pending->wake.expires_at(Clock::time_point::max());
  return IncomingMessage{pending->values.spans, [pending](Status arrived) { pending->Finish(std::move(arrived)); }};
}

net::awaitable<Result<ResponseBatch>> SiteClient::Exchange(const RequestBatch& batch,
                                                           std::shared_ptr<MessageLink> link) {
  auto pending = std::make_shared<Pending>(strand_, link.get());
  pending_[batch.id] = pending;
  OutgoingValues values;
  Bytes head = EncodeRequestBatch(batch, &values);
  const auto sent_at = Clock::now();
  // Named, not a temporary in the co_await: GCC 12 destroys such a temporary argument twice.
  OutgoingMessage message{FrameKind::kRequestBatch, batch.id, std::move(head), std::move(values)};
  Status sent = co_await link->Send(std::move(message));
  if (!sent.ok()) pending->Finish(sent);
  if (!pending->done && !pending->receiving) pending->wake.expires_after(call_timeout_);
  while (!pending->done) {
    auto [ec] = co_await pending->wake.async_wait(kAsTuple);
    if (!ec && !pending->done) {
      pending->Finish(DeadlineExceeded("no answer within " + Seconds(call_timeout_)));
      // A link that has said nothing since the batch went out, with no other call waiting on it,
      // is presumed dead. (Closing one that other calls wait on would fail them, and they would
      // send their batches again while the site may still run them.)
      const bool alone = std::none_of(pending_.begin(), pending_.end(), [&](const auto& p) {
        return p.second != pending && p.second->link == link.get() && !p.second->done;
      });
      if (alone && link->last_received() < sent_at) link->Close();
    }
  }
  pending_.erase(batch.id);
  if (!pending->status.ok()) co_return pending->status;
  ResponseBatch& responses = pending->response;
  if (responses.id != batch.id || responses.responses.size() != batch.requests.size()) {
    co_return DataLoss("response batch " + std::to_string(responses.id) + " with " +
                       std::to_string(responses.responses.size()) + " responses does not answer batch " +
                       std::to_string(batch.id) + " of " + std::to_string(batch.requests.size()));
  }
  co_return std::move(responses);
}

net::awaitable<Result<ResponseBatch>> SiteClient::Call(const RequestBatch& batch) {
  Result<ResponseBatch> result = Status(StatusCode::kInternal, "not sent");
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool reused = link_ != nullptr;
    if (Status connected = co_await EnsureConnected(); !connected.ok()) {
      co_return connected.WithContext(site_.ToString());
    }
    std::shared_ptr<MessageLink> link = link_;
    result = co_await Exchange(batch, link);
    if (result.ok()) co_return result;
    if (link_ == link && link->closed()) link_.reset();  // its reader may not have noticed yet
    // A reused link may have died with a site restart: retry once on a fresh one.
    if (!(reused && result.status().code() == StatusCode::kUnavailable)) break;
    FEDRA_LOG(kInfo) << site_.ToString() << ": connection lost (" << result.status().message() << "), reconnecting";
  }
  co_return result.status().WithContext(site_.ToString());
}

}  // namespace fedra
