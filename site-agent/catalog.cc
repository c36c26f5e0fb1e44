#include "site-agent/catalog.h"

#include <atomic>
#include <memory>

#include "common/logging.h"
#include "federated/protocol.h"

namespace fedra {

Catalog::Catalog(std::map<std::string, DatasetSpec> specs) : specs_(std::move(specs)) {}

CsvOptions Catalog::OptionsFor(const DatasetSpec& spec) const {
  CsvOptions options;
  options.delimiter = spec.delimiter;
  options.header = spec.header;
  // Errors may travel to the master: name the dataset and the file, never the folder.
  options.source_name = "dataset '" + spec.name + "' (" + spec.path.filename().string() + ")";
  return options;
}

void Catalog::Probe() {
  for (const auto& [name, spec] : specs_) {
    Probed p;
    Result<CsvShape> shape = ProbeCsvFile(spec.path.string(), OptionsFor(spec));
    if (shape.ok()) {
      p.rows = static_cast<int64_t>(shape->rows);
      p.columns = shape->column_names;
      FEDRA_LOG(kInfo) << "dataset '" << name << "': " << p.rows << " rows x " << p.columns.size()
                       << " columns, " << PrivacyLevelName(spec.privacy) << ", from " << spec.path.string();
    } else {
      p.error = shape.status().message();
      FEDRA_LOG(kWarn) << "dataset '" << name << "' (" << spec.path.string()
                       << ") cannot be read: " << p.error;
    }
    probed_[name] = std::move(p);
  }
}

nlohmann::json Catalog::List() const {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [name, spec] : specs_) {
    nlohmann::json d = {{"name", name},
                        {"format", spec.format},
                        {"privacy", std::string(PrivacyLevelName(spec.privacy))}};
    auto it = probed_.find(name);
    if (it != probed_.end() && it->second.error.empty()) {
      d["rows"] = it->second.rows;
      d["columns"] = it->second.columns;
    } else if (it != probed_.end()) {
      d["error"] = it->second.error;
    }
    out.push_back(std::move(d));
  }
  return out;
}

Result<const DatasetSpec*> Catalog::Find(std::string_view name) const {
  if (!IsValidDatasetName(name)) {
    return InvalidArgument("'" + std::string(name) +
                           "' is not a dataset name: the network names datasets from the site's "
                           "catalog, never files");
  }
  auto it = specs_.find(std::string(name));
  if (it == specs_.end()) {
    std::string known;
    for (const auto& [n, spec] : specs_) known += (known.empty() ? "" : ", ") + n;
    return NotFound("unknown dataset '" + std::string(name) + "' (this site has: " +
                    (known.empty() ? "none" : known) + ")");
  }
  return &it->second;
}

Result<CsvTable> Catalog::Load(const DatasetSpec& spec, const std::vector<std::string>& columns,
                               std::function<Status(size_t rows, size_t cols)> admit) const {
  CsvOptions options = OptionsFor(spec);
  options.select = columns;
  options.admit = std::move(admit);
  // The reader may report from several threads: log each tenth once.
  auto last_decile = std::make_shared<std::atomic<int>>(-1);
  options.progress = [name = spec.name, last_decile](size_t done, size_t total) {
    if (total < (64u << 20)) return;
    const int pct = static_cast<int>(100.0 * static_cast<double>(done) / static_cast<double>(total));
    int prev = last_decile->load();
    if (pct / 10 <= prev || !last_decile->compare_exchange_strong(prev, pct / 10)) return;
    FEDRA_LOG(kInfo) << "reading dataset '" << name << "': " << pct << "% (" << (done >> 20)
                     << " of " << (total >> 20) << " MiB)";
  };
  return ReadCsvFile(spec.path.string(), options);
}

}  // namespace fedra
