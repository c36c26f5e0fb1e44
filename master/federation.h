// The master's live federation: one SiteClient per configured site, an I/O thread driving them,
// and parallel dispatch of one request batch per site per step.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/executor_work_guard.hpp>

#include "federated/protocol.h"
#include "master/federation_config.h"
#include "master/site_client.h"

namespace fedra {

// Requests per site for one step, and what came back.
using SiteRequests = std::map<std::string, std::vector<Request>>;
using SiteResponses = std::map<std::string, Result<std::vector<Response>>>;

class Federation {
 public:
  // Loads the TLS kit; connects lazily on the first call to each site.
  static Result<std::unique_ptr<Federation>> Create(FederationConfig config);
  ~Federation();

  const FederationConfig& config() const { return config_; }
  std::vector<std::string> site_names() const;

  // Sends each site its batch, all sites in parallel, and waits for every answer (each call has
  // its own deadline). Unknown site names give a kNotFound result for that entry. Steps from
  // several threads run one after another.
  SiteResponses Call(const SiteRequests& requests);

  // The same requests to every site.
  SiteResponses CallAll(const std::vector<Request>& requests);

  // A variable id no other call of this master has used.
  VarId NewVarId() { return next_var_++; }

  // Request batches sent to `site` so far.
  uint64_t batches_sent(const std::string& site) const;

 private:
  explicit Federation(FederationConfig config);

  FederationConfig config_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::map<std::string, std::unique_ptr<SiteClient>> clients_;
  std::thread io_thread_;
  std::mutex step_mu_;  // one step at a time
  std::atomic<uint64_t> next_batch_{1};
  std::atomic<VarId> next_var_;
};

// The first failure in `responses` — a site that could not be reached, or a request it refused —
// as a Status naming the site; Ok when everything succeeded.
Status FirstError(const SiteResponses& responses);

}  // namespace fedra
