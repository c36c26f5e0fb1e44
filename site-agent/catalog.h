// The site's dataset catalog: the only datasets the network can name, and how to load them
// (CSV, or IDX image files with their labels as a last column "label").
// Paths stay here; what the catalog lists to the master is names, shapes, columns and privacy.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/csv_reader.h"
#include "common/status.h"
#include "site-agent/site_config.h"

namespace fedra {

class Catalog {
 public:
  explicit Catalog(std::map<std::string, DatasetSpec> specs);

  // Reads each dataset's header and counts its rows, so List() can show shapes, and checks every
  // cell of CSV datasets. A dataset that cannot be probed stays listed with its error; the site
  // still starts.
  void Probe();

  // [{"name", "format", "privacy", "rows", "columns": [...], "types"?: [...], "missing"?: [...],
  // "warnings"?: [...]} or {"name", "error"}], by name. CSV datasets list each column's type and
  // missing cells (dataset_profile.h); warnings are what the check suspects of a readable
  // dataset (a delimiter that looks wrong, text among numbers, ragged records).
  nlohmann::json List() const;

  // The dataset called `name`: kInvalidArgument for a name that is not a catalog key (a path,
  // "../x"), kNotFound for an unknown one.
  Result<const DatasetSpec*> Find(std::string_view name) const;

  // Loads `columns` (all when empty) of a dataset into memory. `admit` sees the shape before the
  // values are allocated; errors name the dataset, file name, line and column.
  Result<CsvTable> Load(const DatasetSpec& spec, const std::vector<std::string>& columns,
                        std::function<Status(size_t rows, size_t cols)> admit) const;

  // Loads `columns` of a CSV dataset encoded by the fitted `transform` (federated/transform.h):
  // the matrix has its output columns. Reads every cell of the file once, as text.
  Result<CsvTable> LoadEncoded(const DatasetSpec& spec, const std::vector<std::string>& columns,
                               const nlohmann::json& transform,
                               const std::function<Status(size_t rows, size_t cols)>& admit) const;

  // The aggregates of `queries` over a CSV dataset's raw cells (site-agent/column_stats.h).
  Result<nlohmann::json> Describe(const DatasetSpec& spec, const nlohmann::json& queries,
                                  uint64_t min_aggregate_rows) const;

 private:
  struct Probed {
    int64_t rows = -1;
    std::vector<std::string> columns;
    std::string error;
    std::vector<std::string> warnings;
    std::vector<std::string> types;  // csv: per column, from the site's check of every cell
    std::vector<uint64_t> missing;   // csv: per column, missing cells
  };

  CsvOptions OptionsFor(const DatasetSpec& spec) const;
  // The columns of a CSV dataset that probed well, in file order.
  Result<const Probed*> ProbedCsv(const DatasetSpec& spec) const;
  // Adds the types, missing cells and problems of a CSV dataset that probed well.
  void Profile(const DatasetSpec& spec, Probed* p) const;
  Result<CsvShape> ProbeIdx(const DatasetSpec& spec) const;
  Result<CsvTable> LoadIdx(const DatasetSpec& spec, const std::vector<std::string>& columns,
                           const std::function<Status(size_t rows, size_t cols)>& admit) const;

  std::map<std::string, DatasetSpec> specs_;
  std::map<std::string, Probed> probed_;
};

}  // namespace fedra
