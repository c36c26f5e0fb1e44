#include "tests/support/site_kits.h"

#include <cstdio>
#include <sstream>
#include <stdexcept>

#include "common/config.h"
#include "tests/support/temp_dir.h"

namespace fedra::testing {

void SiteKits::EditConfig(const std::string& site, const std::function<void(nlohmann::json&)>& edit) {
  const auto path = kit(site) / "site.json";
  Result<nlohmann::json> doc = LoadJsonFile(path);
  if (!doc.ok()) throw std::runtime_error(doc.status().message());
  edit(*doc);
  WriteFile(path, doc->dump(2));
}

void SiteKits::AddDataset(const std::string& site, const std::string& dataset, const std::string& file,
                          const std::string& privacy) {
  EditConfig(site, [&](nlohmann::json& c) { c["datasets"][dataset] = {{"path", file}, {"privacy", privacy}}; });
}

std::vector<nlohmann::json> SiteKits::audit_events(const std::string& site) const {
  std::vector<nlohmann::json> events;
  std::istringstream in(ReadFile(audit_log(site)));
  for (std::string line; std::getline(in, line);) events.push_back(nlohmann::json::parse(line));
  return events;
}

void SiteKits::AllowTraining(const std::string& dataset) {
  for (const std::string& site : sites_) {
    EditConfig(site, [&](nlohmann::json& c) {
      if (c.contains("datasets") && c["datasets"].contains(dataset)) c["datasets"][dataset]["allow_training"] = true;
    });
  }
}

void SiteKits::AddCsvDataset(const std::string& site, const std::string& dataset, const Matrix& m,
                             const std::vector<std::string>& columns, const std::string& privacy) {
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

void SiteKits::AddSplitCsvDataset(const std::string& dataset, const Matrix& pooled,
                                  const std::vector<int>& rows_per_site, const std::vector<std::string>& columns,
                                  const std::string& privacy) {
  if (rows_per_site.size() > sites_.size()) throw std::runtime_error("more parts than sites");
  Eigen::Index row = 0;
  for (size_t s = 0; s < rows_per_site.size(); row += rows_per_site[s], ++s) {
    AddCsvDataset(sites_[s], dataset, pooled.middleRows(row, rows_per_site[s]), columns, privacy);
  }
  if (row != pooled.rows()) throw std::runtime_error("split sizes do not add up to the pooled rows");
}

}  // namespace fedra::testing
