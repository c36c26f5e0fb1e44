// One persistent mutual-TLS connection from the master to one site. Connects on first use,
// checks that the peer's certificate names this site, and reconnects after the site restarts.
// Every step has a deadline; every error names the site.
#pragma once

#include <memory>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/strand.hpp>

#include "common/framing.h"
#include "federated/protocol.h"
#include "master/federation/federation_config.h"

namespace fedra {

class SiteClient {
 public:
  SiteClient(boost::asio::io_context& io, std::shared_ptr<boost::asio::ssl::context> tls, SiteAddress site,
             const FederationConfig& config);

  const SiteAddress& site() const { return site_; }
  // Runs this client's coroutines; Call must only be awaited on it, one call at a time.
  boost::asio::strand<boost::asio::io_context::executor_type>& strand() { return strand_; }

  // Sends one batch and returns its responses (exactly one per request). A connection that
  // turns out to be dead is replaced once before giving up.
  boost::asio::awaitable<Result<ResponseBatch>> Call(const RequestBatch& batch);

 private:
  boost::asio::awaitable<Status> Connect();
  boost::asio::awaitable<Result<ResponseBatch>> Exchange(const RequestBatch& batch, const Bytes& body);

  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  const SiteAddress site_;
  const Duration connect_timeout_;
  const Duration call_timeout_;
  const uint64_t max_message_bytes_;
  std::unique_ptr<TlsStream> stream_;  // null while disconnected
};

}  // namespace fedra
