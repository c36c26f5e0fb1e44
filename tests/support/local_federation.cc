#include "tests/support/local_federation.h"

#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <sstream>
#include <stdexcept>

#include "common/config.h"
#include "tests/support/temp_dir.h"

namespace fedra::testing {

LocalFederation::LocalFederation(std::filesystem::path dir, std::vector<std::string> sites)
    : dir_(std::move(dir)), sites_(std::move(sites)) {
  std::string cmd = std::string(FEDRA_PROVISION) + " --out '" + (dir_ / "").string() +
                    "' --federation test --master m";
  for (const auto& s : sites_) cmd += " --site " + s;
  cmd += " > '" + (dir_ / "provision.log").string() + "' 2>&1";
  if (std::system(cmd.c_str()) != 0) {
    throw std::runtime_error("provisioning failed: " + ReadFile(dir_ / "provision.log"));
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

void LocalFederation::EditConfig(const std::string& site,
                                 const std::function<void(nlohmann::json&)>& edit) {
  const auto path = kit(site) / "site.json";
  Result<nlohmann::json> doc = LoadJsonFile(path);
  if (!doc.ok()) throw std::runtime_error(doc.status().message());
  edit(*doc);
  WriteFile(path, doc->dump(2));
}

void LocalFederation::AddDataset(const std::string& site, const std::string& dataset,
                                 const std::string& file, const std::string& privacy) {
  EditConfig(site, [&](nlohmann::json& c) {
    c["datasets"][dataset] = {{"path", file}, {"privacy", privacy}};
  });
}

std::vector<nlohmann::json> LocalFederation::audit_events(const std::string& site) const {
  std::vector<nlohmann::json> events;
  std::istringstream in(ReadFile(audit_log(site)));
  for (std::string line; std::getline(in, line);) events.push_back(nlohmann::json::parse(line));
  return events;
}

void LocalFederation::AllowTraining(const std::string& dataset) {
  for (const std::string& site : sites_) {
    EditConfig(site, [&](nlohmann::json& c) {
      if (c.contains("datasets") && c["datasets"].contains(dataset)) c["datasets"][dataset]["allow_training"] = true;
    });
  }
}

void LocalFederation::AddCsvDataset(const std::string& site, const std::string& dataset,
                                    const Matrix& m, const std::vector<std::string>& columns,
                                    const std::string& privacy) {
  std::string text;
  for (size_t j = 0; j < columns.size(); ++j) text += (j ? "," : "") + columns[j];
  text += "\n";
  char buf[32];
  for (Eigen::Index i = 0; i < m.rows(); ++i) {
    for (Eigen::Index j = 0; j < m.cols(); ++j) {
      std::snprintf(buf, sizeof(buf), "%.17g", m(i, j));
      text += (j ? "," : "");
      text += buf;
    }
    text += "\n";
  }
  WriteFile(kit(site) / (dataset + ".csv"), text);
  AddDataset(site, dataset, dataset + ".csv", privacy);
}

void LocalFederation::AddSplitCsvDataset(const std::string& dataset, const Matrix& pooled,
                                         const std::vector<int>& rows_per_site,
                                         const std::vector<std::string>& columns, const std::string& privacy) {
  if (rows_per_site.size() > sites_.size()) throw std::runtime_error("more parts than sites");
  Eigen::Index row = 0;
  for (size_t s = 0; s < rows_per_site.size(); row += rows_per_site[s], ++s) {
    AddCsvDataset(sites_[s], dataset, pooled.middleRows(row, rows_per_site[s]), columns, privacy);
  }
  if (row != pooled.rows()) throw std::runtime_error("split sizes do not add up to the pooled rows");
}

void LocalFederation::Start(const std::string& site) {
  const auto ready = kit(site) / "ready";
  std::filesystem::remove(ready);
  processes_[site] = ChildProcess({FEDRA_SITE_BIN, "--config", (kit(site) / "site.json").string(),
                                   "--ready-file", ready.string()},
                                  log(site));
  ChildProcess& p = processes_[site];
  const bool up = WaitFor([&] { return std::filesystem::exists(ready) || !p.running() ||
                                       p.Wait(std::chrono::milliseconds(0)).has_value(); },
                          std::chrono::seconds(20));
  if (!up || !std::filesystem::exists(ready)) {
    throw std::runtime_error("site '" + site + "' did not start: " + SiteLog(*this, site));
  }
  ports_[site] = static_cast<uint16_t>(std::stoi(ReadFile(ready)));
  // A restart must come back on the same port, as a real site would.
  EditConfig(site, [&](nlohmann::json& c) { c["listen"]["port"] = ports_[site]; });
}

void LocalFederation::StartAll() {
  for (const auto& s : sites_) Start(s);
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
  Result<std::unique_ptr<Federation>> fed = Federation::Create(MasterConfig(call_timeout));
  if (!fed.ok()) throw std::runtime_error(fed.status().message());
  return std::move(*fed);
}

std::filesystem::path LocalFederation::WriteFederationJson(const std::filesystem::path& path) const {
  const FederationConfig c = MasterConfig();
  nlohmann::json sites = nlohmann::json::array();
  for (const auto& s : c.sites) sites.push_back({{"name", s.name}, {"host", s.host}, {"port", s.port}});
  WriteFile(path, nlohmann::json{{"name", "m"},
                                 {"tls", {{"cert", c.tls.cert}, {"key", c.tls.key}, {"ca", c.tls.ca}}},
                                 {"sites", sites}}
                      .dump());
  return path;
}

Result<std::pair<FederatedMatrix, FederatedMatrix>> ReadFeaturesAndLabel(Federation& fed, const std::string& dataset) {
  FEDRA_ASSIGN_OR_RETURN(FederatedMatrix data, FederatedMatrix::Read(fed, dataset));
  std::vector<int64_t> features(static_cast<size_t>(data.cols() - 1));
  std::iota(features.begin(), features.end(), 0);
  FEDRA_ASSIGN_OR_RETURN(FederatedMatrix x, data.SelectColumns(fed, features));
  FEDRA_ASSIGN_OR_RETURN(FederatedMatrix y, data.SelectColumns(fed, {data.cols() - 1}));
  return std::pair(std::move(x), std::move(y));
}

Result<Matrix> FetchValues(Federation& fed, const FederatedMatrix& x) {
  SiteRequests requests;
  for (const FederatedPart& p : x.map().parts()) requests[p.site].push_back(Request::Get(p.var));
  SiteResponses r = fed.Call(requests);
  FEDRA_RETURN_IF_ERROR(FirstError(r));
  Matrix out(x.rows(), x.cols());
  std::map<std::string, size_t> next;
  for (const FederatedPart& p : x.map().parts()) {
    Matrix v = std::move(*(*r.at(p.site))[next[p.site]++].value);
    if (x.transposed()) v.transposeInPlace();  // stored as the transpose of the view's block
    const bool by_row = x.map().partitioning() == Partitioning::kRow;
    if (v.rows() != (by_row ? p.range.size() : x.rows()) || v.cols() != (by_row ? x.cols() : p.range.size())) {
      return DataLoss("site '" + p.site + "' holds a " + std::to_string(v.rows()) + "x" + std::to_string(v.cols()) +
                      " block where the map says otherwise");
    }
    if (x.map().partitioning() == Partitioning::kRow) {
      out.middleRows(p.range.begin, p.range.size()) = v;
    } else {
      out.middleCols(p.range.begin, p.range.size()) = v;
    }
  }
  return out;
}

std::string SiteLog(const LocalFederation& fed, const std::string& site) {
  return ReadFile(fed.log(site));
}

}  // namespace fedra::testing
