// The sites' folders of a test federation: each site's site.json and datasets, edited as their
// data owners would before the sites start. LocalFederation runs them as fedra-site processes;
// InProcessSites runs them in the test process.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/matrix.h"
#include "master/federation/federation.h"

namespace fedra::testing {

class SiteKits {
 public:
  virtual ~SiteKits() = default;

  const std::vector<std::string>& sites() const { return sites_; }
  std::filesystem::path kit(const std::string& site) const { return dir_ / ("site-" + site); }
  std::filesystem::path audit_log(const std::string& site) const { return kit(site) / "audit.jsonl"; }
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

  // Starts the site from its site.json; throws when it cannot.
  virtual void Start(const std::string& site) = 0;
  void StartAll() {
    for (const std::string& s : sites_) Start(s);
  }
  // Stops the site; returns its exit status (nullopt if it did not stop in time).
  virtual std::optional<int> Stop(const std::string& site) = 0;
  // A master "m" speaking to the started sites.
  virtual std::unique_ptr<Federation> Connect(std::chrono::seconds call_timeout = std::chrono::seconds(20)) const = 0;

 protected:
  SiteKits(std::filesystem::path dir, std::vector<std::string> sites)
      : dir_(std::move(dir)), sites_(std::move(sites)) {}

  const std::filesystem::path dir_;
  const std::vector<std::string> sites_;
};

}  // namespace fedra::testing
