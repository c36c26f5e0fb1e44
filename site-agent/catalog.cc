#include "site-agent/catalog.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>

#include "common/idx_reader.h"
#include "common/logging.h"
#include "federated/protocol.h"
#include "federated/transform.h"
#include "site-agent/column_stats.h"
#include "site-agent/dataset_profile.h"

namespace fedra {

Catalog::Catalog(std::map<std::string, DatasetSpec> specs) : specs_(std::move(specs)) {}

namespace {

// How errors name a dataset's file: by name, never by folder, since they may travel to the master.
std::string SourceName(const DatasetSpec& spec, const std::filesystem::path& file) {
  return "dataset '" + spec.name + "' (" + file.filename().string() + ")";
}

// A CSV read as one column whose header holds another common delimiter was most likely written
// with that one: say so, since the file reads without error.
std::vector<std::string> DelimiterWarnings(const DatasetSpec& spec, const std::vector<std::string>& columns) {
  if (spec.format != "csv" || !spec.header || columns.size() != 1) return {};
  constexpr std::pair<char, const char*> kOthers[] = {{';', "\";\""}, {'\t', "\"\\t\""}, {'|', "\"|\""}};
  for (const auto& [c, name] : kOthers) {
    if (c != spec.delimiter && columns[0].find(c) != std::string::npos) {
      return {"read as one column, but its header holds " + std::string(name) +
              ": is that the delimiter? (site.json: \"delimiter\": " + name + ")"};
    }
  }
  return {};
}

}  // namespace

CsvOptions Catalog::OptionsFor(const DatasetSpec& spec) const {
  CsvOptions options;
  options.delimiter = spec.delimiter;
  options.header = spec.header;
  options.source_name = SourceName(spec, spec.path);
  // Errors travel to the master: they may locate and quote a cell only of public data.
  options.locate_cells = spec.privacy == PrivacyLevel::kPublic;
  options.missing = spec.missing;
  return options;
}

void Catalog::Profile(const DatasetSpec& spec, Probed* p) const {
  const auto start = std::chrono::steady_clock::now();
  Result<DatasetProfile> profile = ProfileCsv(spec.path.string(), OptionsFor(spec), p->columns, spec.missing);
  if (!profile.ok()) {
    p->warnings.push_back("checking every cell: " + profile.status().message());
    return;
  }
  for (size_t j = 0; j < profile->columns.size(); ++j) {
    const auto declared = spec.types.find(p->columns[j]);
    p->types.push_back(declared != spec.types.end() ? declared->second : profile->columns[j].type);
    p->missing.push_back(profile->columns[j].missing);
  }
  for (const auto& [column, type] : spec.types) {
    if (std::find(p->columns.begin(), p->columns.end(), column) == p->columns.end()) {
      p->warnings.push_back("site.json declares a type for column '" + column + "', which the file does not hold");
    }
  }
  p->warnings.insert(p->warnings.end(), profile->problems.begin(), profile->problems.end());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (seconds > 1) FEDRA_LOG(kInfo) << "dataset '" << spec.name << "': checked every cell in " << seconds << " s";
}

void Catalog::Probe() {
  for (const auto& [name, spec] : specs_) {
    Probed p;
    Result<CsvShape> shape = spec.format == "idx" ? ProbeIdx(spec) : ProbeCsvFile(spec.path.string(), OptionsFor(spec));
    if (shape.ok()) {
      p.rows = static_cast<int64_t>(shape->rows);
      p.columns = shape->column_names;
      p.warnings = DelimiterWarnings(spec, p.columns);
      if (spec.format == "csv") Profile(spec, &p);
      FEDRA_LOG(kInfo) << "dataset '" << name << "': " << p.rows << " rows x " << p.columns.size() << " columns, "
                       << PrivacyLevelName(spec.privacy) << ", from " << spec.path.string();
      for (const std::string& w : p.warnings) FEDRA_LOG(kWarn) << "dataset '" << name << "': " << w;
    } else {
      p.error = shape.status().message();
      FEDRA_LOG(kWarn) << "dataset '" << name << "' (" << spec.path.string() << ") cannot be read: " << p.error;
    }
    probed_[name] = std::move(p);
  }
}

nlohmann::json Catalog::List() const {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [name, spec] : specs_) {
    nlohmann::json d = {
        {"name", name}, {"format", spec.format}, {"privacy", std::string(PrivacyLevelName(spec.privacy))}};
    auto it = probed_.find(name);
    if (it != probed_.end() && it->second.error.empty()) {
      d["rows"] = it->second.rows;
      d["columns"] = it->second.columns;
      if (!it->second.types.empty()) d["types"] = it->second.types;
      if (!it->second.missing.empty()) d["missing"] = it->second.missing;
      if (!it->second.warnings.empty()) d["warnings"] = it->second.warnings;
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
    return NotFound("unknown dataset '" + std::string(name) + "' (this site has: " + (known.empty() ? "none" : known) +
                    ")");
  }
  return &it->second;
}

Result<CsvTable> Catalog::Load(const DatasetSpec& spec, const std::vector<std::string>& columns,
                               std::function<Status(size_t rows, size_t cols)> admit) const {
  if (spec.format == "idx") return LoadIdx(spec, columns, admit);
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
    FEDRA_LOG(kInfo) << "reading dataset '" << name << "': " << pct << "% (" << (done >> 20) << " of " << (total >> 20)
                     << " MiB)";
  };
  FEDRA_ASSIGN_OR_RETURN(CsvTable table, ReadCsvFile(spec.path.string(), options));
  // "NaN" reads as a number; a job's sums would carry it into every result, so it is named here.
  for (Eigen::Index j = 0; j < table.values.cols(); ++j) {
    if (!table.values.col(j).hasNaN()) continue;
    return DataLoss(options.source_name + ": column \"" + table.column_names[static_cast<size_t>(j)] +
                    "\": a missing value (NaN): the columns a job reads must hold a number in every row; leave the "
                    "column out or fill it in");
  }
  return table;
}

Result<const Catalog::Probed*> Catalog::ProbedCsv(const DatasetSpec& spec) const {
  if (spec.format != "csv") {
    return InvalidArgument("dataset '" + spec.name + "' is " + spec.format +
                           ": transforms read CSV datasets, whose columns may hold categories and missing values");
  }
  const auto it = probed_.find(spec.name);
  if (it == probed_.end() || !it->second.error.empty()) {
    return FailedPrecondition("dataset '" + spec.name + "' cannot be read" +
                              (it == probed_.end() ? "" : ": " + it->second.error));
  }
  return &it->second;
}

Result<nlohmann::json> Catalog::Describe(const DatasetSpec& spec, const nlohmann::json& queries,
                                         uint64_t min_aggregate_rows) const {
  FEDRA_ASSIGN_OR_RETURN(const Probed* probed, ProbedCsv(spec));
  return DescribeColumns(spec, OptionsFor(spec), probed->columns, queries, min_aggregate_rows);
}

Result<CsvTable> Catalog::LoadEncoded(const DatasetSpec& spec, const std::vector<std::string>& columns,
                                      const nlohmann::json& transform,
                                      const std::function<Status(size_t rows, size_t cols)>& admit) const {
  FEDRA_ASSIGN_OR_RETURN(const Probed* probed, ProbedCsv(spec));
  FEDRA_ASSIGN_OR_RETURN(const Transform t, Transform::Parse(transform, columns, {}, "read: transform"));
  if (!t.fitted()) return InvalidArgument("read: the transform is not fitted (the master fits it first)");
  FEDRA_ASSIGN_OR_RETURN(const RowEncoder encoder, RowEncoder::Make(t, spec.missing));
  std::vector<size_t> fields;
  for (const std::string& c : columns) {
    const auto it = std::find(probed->columns.begin(), probed->columns.end(), c);
    if (it == probed->columns.end()) return InvalidArgument("dataset '" + spec.name + "' has no column '" + c + "'");
    fields.push_back(static_cast<size_t>(it - probed->columns.begin()));
  }
  const std::vector<std::string> names = t.OutputNames();
  const auto rows = static_cast<size_t>(probed->rows);
  if (admit) FEDRA_RETURN_IF_ERROR(admit(rows, names.size()));
  const CsvOptions options = OptionsFor(spec);
  CsvTable out{Matrix(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(names.size())), names};
  // Chunks encode in parallel into their own rows. A malformed record is the error the scan
  // returns; otherwise the first record in file order that does not encode.
  std::mutex mu;
  size_t failed_row = SIZE_MAX;
  Status failed;
  const Result<size_t> scanned =
      ScanCsvRows(spec.path.string(), options, [&](size_t i, size_t line, const std::vector<std::string>& f) {
        auto fail = [&](Status s) {
          std::lock_guard<std::mutex> lock(mu);
          if (i < failed_row) {
            failed_row = i;
            failed =
                Status(s.code(), options.source_name + ": " +
                                     (options.locate_cells ? "line " + std::to_string(line) + ", " : "") + s.message());
          }
          return false;
        };
        if (i >= rows || f.size() != probed->columns.size()) {
          return fail(DataLoss("the file changed since the site started (restart the site)"));
        }
        thread_local std::vector<std::string_view> cells;
        thread_local Eigen::VectorXd row;
        cells.resize(fields.size());
        row.resize(static_cast<Eigen::Index>(names.size()));
        for (size_t j = 0; j < fields.size(); ++j) cells[j] = f[fields[j]];
        if (Status s = encoder.Encode(cells, options.locate_cells, row.data()); !s.ok()) return fail(s);
        out.values.row(static_cast<Eigen::Index>(i)) = row.transpose();
        return true;
      });
  FEDRA_RETURN_IF_ERROR(scanned.status());
  FEDRA_RETURN_IF_ERROR(failed);
  if (*scanned != rows)
    return DataLoss(options.source_name + ": the file changed since the site started (restart the site)");
  return out;
}

namespace {

// "p0", "p1", ... for an item's elements (pixels), then "label" when there is a label file.
std::vector<std::string> IdxColumns(uint64_t elements, bool labelled) {
  std::vector<std::string> names;
  for (uint64_t j = 0; j < elements; ++j) names.push_back("p" + std::to_string(j));
  if (labelled) names.push_back("label");
  return names;
}

}  // namespace

Result<CsvShape> Catalog::ProbeIdx(const DatasetSpec& spec) const {
  const std::string source = SourceName(spec, spec.path);
  FEDRA_ASSIGN_OR_RETURN(IdxShape items, ProbeIdxFile(spec.path.string(), source));
  if (!spec.labels.empty()) {
    FEDRA_ASSIGN_OR_RETURN(IdxShape labels, ProbeIdxFile(spec.labels.string(), SourceName(spec, spec.labels)));
    if (labels.items() != items.items() || labels.item_size() != 1) {
      return DataLoss(source + ": " + std::to_string(items.items()) + " items but " + std::to_string(labels.items()) +
                      " labels of " + std::to_string(labels.item_size()) + " values in " +
                      spec.labels.filename().string());
    }
  }
  return CsvShape{items.items(), IdxColumns(items.item_size(), !spec.labels.empty())};
}

Result<CsvTable> Catalog::LoadIdx(const DatasetSpec& spec, const std::vector<std::string>& columns,
                                  const std::function<Status(size_t rows, size_t cols)>& admit) const {
  FEDRA_ASSIGN_OR_RETURN(CsvShape shape, ProbeIdx(spec));
  std::vector<int64_t> picked;
  for (const std::string& c : columns) {
    auto it = std::find(shape.column_names.begin(), shape.column_names.end(), c);
    if (it == shape.column_names.end()) return InvalidArgument("dataset '" + spec.name + "' has no column '" + c + "'");
    picked.push_back(it - shape.column_names.begin());
  }
  // Every column in file order (what a read by name of all columns asks for) is the file as it is.
  const bool as_is = columns.empty() || columns == shape.column_names;
  if (as_is) picked.clear();
  // Otherwise the whole file is read before columns are picked: admit both.
  const size_t cols = shape.column_names.size() + (as_is ? 0 : columns.size());
  if (admit) FEDRA_RETURN_IF_ERROR(admit(shape.rows, cols));
  const std::string source = SourceName(spec, spec.path);
  FEDRA_ASSIGN_OR_RETURN(Matrix all, ReadIdxFile(spec.path.string(), source, nullptr, spec.labels.empty() ? 0 : 1));
  if (!spec.labels.empty()) {
    FEDRA_ASSIGN_OR_RETURN(Matrix labels, ReadIdxFile(spec.labels.string(), SourceName(spec, spec.labels)));
    if (labels.rows() != all.rows() || labels.cols() != 1) {
      return DataLoss(source + ": " + std::to_string(all.rows()) + " items but " + std::to_string(labels.rows()) +
                      " labels (did a file change since the site started?)");
    }
    all.rightCols(1) = labels;
  }
  if (picked.empty()) return CsvTable{std::move(all), shape.column_names};
  CsvTable out{Matrix(all.rows(), static_cast<Eigen::Index>(picked.size())), columns};
  for (size_t j = 0; j < picked.size(); ++j) out.values.col(static_cast<Eigen::Index>(j)) = all.col(picked[j]);
  return out;
}

}  // namespace fedra
