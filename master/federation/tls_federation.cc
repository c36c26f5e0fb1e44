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
  explicit TlsFederation(const FederationConfig& config) : Federation(SiteNames(config)) {}

  ~TlsFederation() override {
    for (auto& io : io_) io->stop();
    for (std::thread& t : io_threads_) t.join();
  }

  Status Start(const FederationConfig& config) {
    FEDRA_ASSIGN_OR_RETURN(auto tls, MakeTlsContext(config.tls, TlsSide::kClient));
    // Each site's TLS work (encrypting and decrypting megabytes of parameters) runs on its
    // client's strand; several threads let sites' transfers proceed in parallel. Each thread
    // polls its own sockets: a connection's socket must be driven by the thread that polls it
    // (see site_server.cc), so there is one I/O context per thread, sites dealt round robin.
    const size_t threads = std::min(std::clamp<size_t>(std::thread::hardware_concurrency(), 2, 8),
                                    std::max<size_t>(1, config.sites.size()));
    for (size_t i = 0; i < threads; ++i) {
      io_.push_back(std::make_unique<net::io_context>(1));
      work_.push_back(net::make_work_guard(*io_.back()));
    }
    for (size_t i = 0; i < config.sites.size(); ++i) {
      const SiteAddress& site = config.sites[i];
      auto report = [watch = &transfer_watch(), name = site.name](const TransferProgress& p) {
        watch->Report(name, p);
      };
      clients_.emplace(site.name, std::make_unique<SiteClient>(*io_[i % threads], tls, site, config, report));
    }
    for (auto& io : io_) io_threads_.emplace_back([&io = *io] { io.run(); });
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

  std::vector<std::unique_ptr<net::io_context>> io_;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> work_;
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
