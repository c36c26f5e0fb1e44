// One persistent mutual-TLS link from the master to one site. Connects on first use, checks that
// the peer's certificate names this site, and reconnects after the site restarts. Batches from
// several callers share the link: each carries its id, answers may come back in any order, and a
// caller waits only for its own. Every step has a deadline; every error names the site.
#pragma once

#include <map>
#include <memory>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "common/message_link.h"
#include "federated/protocol.h"
#include "master/federation/federation_config.h"

namespace fedra {

class SiteClient {
 public:
  // `on_transfer` is told how this site's long transfers go.
  SiteClient(boost::asio::io_context& io, std::shared_ptr<boost::asio::ssl::context> tls, SiteAddress site,
             const FederationConfig& config, TransferObserver on_transfer);

  const SiteAddress& site() const { return site_; }
  // Runs this client's coroutines; Call must only be awaited on it.
  boost::asio::strand<boost::asio::io_context::executor_type>& strand() { return strand_; }

  // Sends one batch and returns its responses (exactly one per request); `batch` lives until
  // then. Calls may overlap. A link that turns out to be dead is replaced once before giving up.
  boost::asio::awaitable<Result<ResponseBatch>> Call(const RequestBatch& batch);

 private:
  struct Pending;

  boost::asio::awaitable<Status> EnsureConnected();
  boost::asio::awaitable<Status> Connect();
  boost::asio::awaitable<void> ReceiveOn(std::shared_ptr<MessageLink> link);
  boost::asio::awaitable<Result<ResponseBatch>> Exchange(const RequestBatch& batch, std::shared_ptr<MessageLink> link);
  Result<IncomingMessage> OnHead(const MessageLink* link, const FrameHeader& header, Bytes head);

  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  const SiteAddress site_;
  const Duration connect_timeout_;
  const Duration call_timeout_;
  const uint64_t max_message_bytes_;
  const uint64_t max_value_bytes_;
  const TransferObserver on_transfer_;
  std::shared_ptr<MessageLink> link_;  // null while disconnected
  bool connecting_ = false;
  boost::asio::steady_timer connected_;                   // cancelled when a connection attempt ends
  std::map<uint64_t, std::shared_ptr<Pending>> pending_;  // calls awaiting their answer, by batch id
};

}  // namespace fedra
