// A real federation on loopback for integration tests: certificates from the real provisioning
// command, one real fedra-site process per site (port chosen by the OS), and a master
// Federation connected to them.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/matrix.h"
#include "common/tls.h"
#include "master/federated_matrix.h"
#include "master/federation.h"
#include "tests/support/child_process.h"

namespace fedra::testing {

class LocalFederation {
 public:
  // Provisions a CA, master kit "m" and a kit per site under `dir`.
  LocalFederation(std::filesystem::path dir, std::vector<std::string> sites);
  ~LocalFederation();

  const std::vector<std::string>& sites() const { return sites_; }
  std::filesystem::path kit(const std::string& site) const { return dir_ / ("site-" + site); }
  std::filesystem::path master_kit() const { return dir_ / "master-m"; }
  // The master's certificate, key and CA, for clients that speak to the sites as master "m".
  TlsFiles master_tls() const {
    return {master_kit() / "cert.pem", master_kit() / "key.pem", master_kit() / "ca.crt"};
  }
  std::filesystem::path audit_log(const std::string& site) const { return kit(site) / "audit.jsonl"; }
  std::filesystem::path log(const std::string& site) const { return kit(site) / "site.log"; }
  // The site's audit trail, one event per line (throws on a line that is not JSON).
  std::vector<nlohmann::json> audit_events(const std::string& site) const;

  // Edits a site's site.json before it starts.
  void EditConfig(const std::string& site, const std::function<void(nlohmann::json&)>& edit);
  // Writes `m` as CSV (header `columns`, full precision) into the site's kit and lists it in
  // its catalog under `dataset` with `privacy`.
  void AddCsvDataset(const std::string& site, const std::string& dataset, const Matrix& m,
                     const std::vector<std::string>& columns, const std::string& privacy);
  // Splits `pooled` by rows over the sites, in site order, `rows_per_site[i]` rows to site i, each
  // part written with AddCsvDataset. The sizes must add up to pooled.rows().
  void AddSplitCsvDataset(const std::string& dataset, const Matrix& pooled, const std::vector<int>& rows_per_site,
                          const std::vector<std::string>& columns, const std::string& privacy);
  // Lets masters train and score models on `dataset` at every site that lists it, as its data
  // owners would in site.json (private-aggregate data refuses training otherwise).
  void AllowTraining(const std::string& dataset);
  // Lists an existing file (path relative to the kit) as a dataset.
  void AddDataset(const std::string& site, const std::string& dataset, const std::string& file,
                  const std::string& privacy);

  // Starts the site process and waits (with a deadline) until it listens. Throws on failure.
  void Start(const std::string& site);
  void StartAll();
  // SIGTERM and wait; returns the exit status (nullopt if it did not stop in time).
  std::optional<int> Stop(const std::string& site);
  ChildProcess& process(const std::string& site) { return processes_.at(site); }
  uint16_t port(const std::string& site) const { return ports_.at(site); }

  // The master's configuration pointing at the running sites.
  FederationConfig MasterConfig(std::chrono::seconds call_timeout = std::chrono::seconds(20)) const;
  std::unique_ptr<Federation> Connect(std::chrono::seconds call_timeout = std::chrono::seconds(20)) const;
  // Writes MasterConfig() as a federation.json for a fedra-master process; returns `path`.
  std::filesystem::path WriteFederationJson(const std::filesystem::path& path) const;

 private:
  std::filesystem::path dir_;
  std::vector<std::string> sites_;
  std::map<std::string, ChildProcess> processes_;
  std::map<std::string, uint16_t> ports_;
};

// Fetches a federated matrix's values from its sites (they must be releasable, e.g. public) and
// stacks them in place.
Result<Matrix> FetchValues(Federation& fed, const FederatedMatrix& x);

// Reads `dataset` at the sites and splits it into its features (every column but the last) and
// its label (the last column), both staying at the sites.
Result<std::pair<FederatedMatrix, FederatedMatrix>> ReadFeaturesAndLabel(Federation& fed, const std::string& dataset);

// Joins the site's log for failure messages.
std::string SiteLog(const LocalFederation& fed, const std::string& site);

}  // namespace fedra::testing
