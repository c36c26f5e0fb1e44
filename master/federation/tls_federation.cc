#include "master/federation/tls_federation.h"

#include <algorithm>
#include <future>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "common/tls.h"
#include "master/federation/site_client.h"

namespace fedra {
namespace net = boost::asio;
namespace {

class TlsFederation final : public Federation {
 public:
  explicit TlsFederation(const FederationConfig& config)
      : Federation(SiteNames(config)), work_(net::make_work_guard(io_)) {}

  ~TlsFederation() override {
    work_.reset();
    io_.stop();
    for (std::thread& t : io_threads_) t.join();
  }

  Status Start(const FederationConfig& config) {
    FEDRA_ASSIGN_OR_RETURN(auto tls, MakeTlsContext(config.tls, TlsSide::kClient));
    for (const SiteAddress& site : config.sites) {
      clients_.emplace(site.name, std::make_unique<SiteClient>(io_, tls, site, config));
    }
    // Each site's TLS work (encrypting and decrypting megabytes of parameters) runs on its
    // client's strand; several threads let sites' transfers proceed in parallel.
    const size_t threads = std::clamp<size_t>(std::thread::hardware_concurrency(), 2, 8);
    for (size_t i = 0; i < std::min(threads, clients_.size()); ++i) {
      io_threads_.emplace_back([this] { io_.run(); });
    }
    return Status::Ok();
  }

 protected:
  std::future<Result<ResponseBatch>> Send(const std::string& site, const RequestBatch& batch) override {
    SiteClient* client = clients_.at(site).get();
    return net::co_spawn(client->strand(), client->Call(batch), net::use_future);
  }

 private:
  static std::vector<std::string> SiteNames(const FederationConfig& config) {
    std::vector<std::string> names;
    for (const SiteAddress& s : config.sites) names.push_back(s.name);
    return names;
  }

  net::io_context io_;
  net::executor_work_guard<net::io_context::executor_type> work_;
  std::map<std::string, std::unique_ptr<SiteClient>> clients_;
  std::vector<std::thread> io_threads_;
};

}  // namespace

Result<std::unique_ptr<Federation>> ConnectFederation(const FederationConfig& config) {
  auto fed = std::make_unique<TlsFederation>(config);
  FEDRA_RETURN_IF_ERROR(fed->Start(config));
  return std::unique_ptr<Federation>(std::move(fed));
}

}  // namespace fedra
