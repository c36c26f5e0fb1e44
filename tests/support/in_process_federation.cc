#include "tests/support/in_process_federation.h"

#include <future>
#include <stdexcept>

#include "site-agent/site_config.h"
#include "tests/support/temp_dir.h"

namespace fedra::testing {
namespace {

// What the site would answer to `batch` had it come over the wire: both directions are encoded
// and decoded, so the executor sees exactly what a site process would and the master gets copies.
Result<ResponseBatch> Exchange(SiteAgent& site, const RequestBatch& batch, const PeerIdentity& master) {
  const Bytes request = EncodeRequestBatch(batch);
  RequestBatch received;
  FEDRA_RETURN_IF_ERROR(DecodeRequestBatch(request, &received).WithContext("malformed request batch"));
  const Bytes response = EncodeResponseBatch(site.Execute(std::move(received), master));
  ResponseBatch answer;
  FEDRA_RETURN_IF_ERROR(DecodeResponseBatch(response, &answer));
  return answer;
}

}  // namespace

std::shared_ptr<SiteAgent> SiteSlot::agent() const {
  std::lock_guard lock(mu_);
  return agent_;
}

void SiteSlot::set(std::shared_ptr<SiteAgent> agent) {
  std::lock_guard lock(mu_);
  agent_ = std::move(agent);
}

InProcessFederation::InProcessFederation(std::map<std::string, std::shared_ptr<const SiteSlot>> sites,
                                         std::string master)
    : Federation(Names(sites)), sites_(std::move(sites)), master_{"master", std::move(master), "test"} {}

std::vector<std::string> InProcessFederation::Names(
    const std::map<std::string, std::shared_ptr<const SiteSlot>>& sites) {
  std::vector<std::string> names;
  for (const auto& [name, agent] : sites) names.push_back(name);
  return names;
}

std::future<Result<ResponseBatch>> InProcessFederation::Send(const std::string& site, const RequestBatch& batch) {
  return std::async(std::launch::async,
                    [this, agent = sites_.at(site)->agent(), &site, &batch]() -> Result<ResponseBatch> {
                      if (!agent) return Unavailable("site '" + site + "': not running");
                      Result<ResponseBatch> r = Exchange(*agent, batch, master_);
                      if (!r.ok()) return r.status().WithContext("site '" + site + "'");
                      return r;
                    });
}

InProcessSites::InProcessSites(std::filesystem::path dir, std::vector<std::string> sites)
    : SiteKits(std::move(dir), std::move(sites)) {
  for (const std::string& s : sites_) {
    // A site's kit as provisioning writes it, without certificates: no network here.
    std::filesystem::create_directories(kit(s));
    SiteConfig config;
    config.name = s;
    config.tls = TlsFiles::InKit(kit(s));
    config.allowed_masters = {"m"};
    WriteFile(kit(s) / "site.json", SiteConfigJson(config, kit(s)).dump(2));
    slots_[s] = std::make_shared<SiteSlot>();
  }
}

void InProcessSites::Start(const std::string& site) {
  Result<SiteConfig> config = LoadSiteConfig(kit(site) / "site.json");
  if (!config.ok()) throw std::runtime_error("site '" + site + "' did not start: " + config.status().message());
  Result<std::unique_ptr<SiteAgent>> agent = SiteAgent::Open(*config);
  if (!agent.ok()) throw std::runtime_error("site '" + site + "' did not start: " + agent.status().message());
  slots_.at(site)->set(std::move(*agent));
}

std::optional<int> InProcessSites::Stop(const std::string& site) {
  slots_.at(site)->set(nullptr);
  return 0;
}

std::unique_ptr<Federation> InProcessSites::Connect(std::chrono::seconds) const {
  std::map<std::string, std::shared_ptr<const SiteSlot>> sites(slots_.begin(), slots_.end());
  return std::make_unique<InProcessFederation>(std::move(sites), "m");
}

}  // namespace fedra::testing
