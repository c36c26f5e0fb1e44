#include "tests/support/local_federation.h"

#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <stdexcept>

#include "common/config.h"
#include "master/federation/tls_federation.h"
#include "provision/provisioner.h"
#include "tests/support/temp_dir.h"

namespace fedra::testing {

LocalFederation::LocalFederation(std::filesystem::path dir, std::vector<std::string> sites)
    : SiteKits(std::move(dir), std::move(sites)) {
  provision::ProvisionRequest request;
  request.out = dir_;
  request.federation = "test";
  request.masters = {"m"};
  for (const auto& s : sites_) {
    provision::SiteSpec site;
    site.name = s;
    request.sites.push_back(std::move(site));
  }
  if (Result<provision::ProvisionReport> report = provision::Provision(request); !report.ok()) {
    throw std::runtime_error("provisioning failed: " + report.status().message());
  }
  for (const auto& s : sites_) {
    EditConfig(s, [](nlohmann::json& c) { c["listen"]["port"] = 0; });
  }
}

LocalFederation::~LocalFederation() {
  for (auto& [site, process] : processes_) {
    process.Signal(SIGTERM);
    if (!process.Wait(std::chrono::seconds(5))) process.Kill();
  }
}

void LocalFederation::Start(const std::string& site) {
  const auto ready = kit(site) / "ready";
  std::filesystem::remove(ready);
  std::vector<std::string> argv = launch_prefix[site];
  for (const std::string& arg : {std::string(FEDRA_SITE_BIN), std::string("--config"),
                                 (kit(site) / "site.json").string(), std::string("--ready-file"), ready.string()}) {
    argv.push_back(arg);
  }
  processes_[site] = ChildProcess(argv, log(site));
  ChildProcess& p = processes_[site];
  const bool up = WaitFor(
      [&] {
        return std::filesystem::exists(ready) || !p.running() || p.Wait(std::chrono::milliseconds(0)).has_value();
      },
      std::chrono::seconds(20));
  if (!up || !std::filesystem::exists(ready)) {
    throw std::runtime_error("site '" + site + "' did not start: " + SiteLog(*this, site));
  }
  ports_[site] = static_cast<uint16_t>(std::stoi(ReadFile(ready)));
  // A restart must come back on the same port, as a real site would.
  EditConfig(site, [&](nlohmann::json& c) { c["listen"]["port"] = ports_[site]; });
}

std::optional<int> LocalFederation::Stop(const std::string& site) {
  ChildProcess& p = processes_.at(site);
  p.Signal(SIGTERM);
  return p.Wait(std::chrono::seconds(10));
}

FederationConfig LocalFederation::MasterConfig(std::chrono::seconds call_timeout) const {
  Result<FederationConfig> config = LoadFederationConfig(master_kit() / "federation.json");
  if (!config.ok()) throw std::runtime_error(config.status().message());
  for (SiteAddress& s : config->sites) {
    s.host = "127.0.0.1";
    s.port = ports_.at(s.name);
  }
  config->call_timeout = call_timeout;
  config->connect_timeout = std::chrono::seconds(5);
  return *config;
}

std::unique_ptr<Federation> LocalFederation::Connect(std::chrono::seconds call_timeout) const {
  Result<std::unique_ptr<Federation>> fed = ConnectFederation(MasterConfig(call_timeout));
  if (!fed.ok()) throw std::runtime_error(fed.status().message());
  return std::move(*fed);
}

std::filesystem::path LocalFederation::WriteFederationJson(const std::filesystem::path& path) const {
  const FederationConfig c = MasterConfig();
  nlohmann::json sites = nlohmann::json::array();
  for (const auto& s : c.sites) sites.push_back({{"name", s.name}, {"host", s.host}, {"port", s.port}});
  WriteFile(path,
            nlohmann::json{
                {"name", "m"}, {"tls", {{"cert", c.tls.cert}, {"key", c.tls.key}, {"ca", c.tls.ca}}}, {"sites", sites}}
                .dump());
  return path;
}

std::string SiteLog(const LocalFederation& fed, const std::string& site) { return ReadFile(fed.log(site)); }

Status NothingLeft(Federation& fed) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    FEDRA_RETURN_IF_ERROR(fed.FlushReleases());
    SiteResponses catalogs = fed.CallAll({Request::ListCatalog()});
    FEDRA_RETURN_IF_ERROR(FirstError(catalogs));
    nlohmann::json held = nlohmann::json::object();
    for (const auto& [site, r] : catalogs) {
      if ((*r)[0].meta["variables"] != 0) held[site] = (*r)[0].meta["variables"];
    }
    if (held.empty()) return Status::Ok();
    if (std::chrono::steady_clock::now() >= deadline) {
      return FailedPrecondition("variables left at the sites: " + held.dump());
    }
  }
}

}  // namespace fedra::testing
