#include "site-agent/column_stats.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "site-agent/support.h"

namespace fedra {
namespace {

constexpr int64_t kMaxBins = 4096;
constexpr size_t kMaxBinQueries = 64;

struct BinQuery {
  double lo = 0, hi = 0;
  int64_t bins = 0;
  uint64_t below = 0;
  std::vector<uint64_t> count;
  std::vector<double> min, max;
};

// One queried column's query and what the pass over the file gathers for it.
struct ColumnTally {
  std::string name;
  size_t field = 0;  // its index in a record
  bool levels = false, moments = false, range = false;
  std::vector<BinQuery> bins;

  uint64_t rows = 0, missing = 0;
  std::map<std::string, uint64_t, std::less<>> counts;
  uint64_t n = 0;
  double mean = 0, m2 = 0;  // Welford's running moments
  double min = std::numeric_limits<double>::infinity(), max = -std::numeric_limits<double>::infinity();
  std::vector<double> values;  // private-aggregate moments: for their effective support

  bool numbers() const { return moments || range || !bins.empty(); }
};

Status ParseQuery(const nlohmann::json& q, const std::string& where, ColumnTally* t) {
  if (!q.is_object()) return InvalidArgument(where + ": expected an object");
  for (const auto& [key, v] : q.items()) {
    if (key == "levels" || key == "moments" || key == "range") {
      if (!v.is_boolean()) return InvalidArgument(where + "." + key + ": expected true or false");
      (key == "levels" ? t->levels : key == "moments" ? t->moments : t->range) = v.get<bool>();
    } else if (key == "bins") {
      if (!v.is_array() || v.size() > kMaxBinQueries) {
        return InvalidArgument(where + ".bins: expected at most " + std::to_string(kMaxBinQueries) +
                               " [lo, hi, bins] queries");
      }
      for (const nlohmann::json& b : v) {
        if (!b.is_array() || b.size() != 3 || !b[0].is_number() || !b[1].is_number() || !b[2].is_number_integer() ||
            !(b[0].get<double>() <= b[1].get<double>()) || b[2].get<int64_t>() < 1 || b[2].get<int64_t>() > kMaxBins) {
          return InvalidArgument(
              where + ".bins: expected [lo, hi, bins] with lo <= hi and 1 <= bins <= " + std::to_string(kMaxBins));
        }
        BinQuery bq;
        bq.lo = b[0].get<double>();
        bq.hi = b[1].get<double>();
        bq.bins = b[2].get<int64_t>();
        bq.count.assign(static_cast<size_t>(bq.bins), 0);
        bq.min.assign(static_cast<size_t>(bq.bins), std::numeric_limits<double>::infinity());
        bq.max.assign(static_cast<size_t>(bq.bins), -std::numeric_limits<double>::infinity());
        t->bins.push_back(std::move(bq));
      }
    } else {
      return InvalidArgument(where + ": unknown field '" + key + "' (levels, moments, range, bins)");
    }
  }
  return Status::Ok();
}

void AddNumber(double v, ColumnTally* t, bool keep) {
  ++t->n;
  const double delta = v - t->mean;
  t->mean += delta / static_cast<double>(t->n);
  t->m2 += delta * (v - t->mean);
  t->min = std::min(t->min, v);
  t->max = std::max(t->max, v);
  if (keep) t->values.push_back(v);
  for (BinQuery& b : t->bins) {
    if (v < b.lo) {
      ++b.below;
      continue;
    }
    if (v > b.hi) continue;
    const double width = b.hi / static_cast<double>(b.bins) - b.lo / static_cast<double>(b.bins);  // no overflow
    int64_t i = width > 0 ? static_cast<int64_t>((v - b.lo) / width) : 0;
    i = std::clamp<int64_t>(i, 0, b.bins - 1);
    const auto k = static_cast<size_t>(i);
    ++b.count[k];
    b.min[k] = std::min(b.min[k], v);
    b.max[k] = std::max(b.max[k], v);
  }
}

std::string Refusal(const DatasetSpec& spec) {
  return "dataset '" + spec.name + "' is " + std::string(PrivacyLevelName(spec.privacy));
}

// What of `t` may leave under private-aggregate rules with `min_rows`.
Status CheckPrivateAggregate(const DatasetSpec& spec, uint64_t min_rows, ColumnTally* t, nlohmann::json* out) {
  if (t->moments) {
    const Eigen::Map<const Matrix> column(t->values.data(), static_cast<Eigen::Index>(t->values.size()), 1);
    const uint64_t support = FewestDiffering(SpreadPerColumn(column), t->n);
    if (support < min_rows) {
      return PermissionDenied(Refusal(spec) + ": the mean and spread of column '" + t->name + "' rest on " +
                              std::to_string(support) + " rows, fewer than the site's minimum of " +
                              std::to_string(min_rows) + "; give the transform's values in the job instead");
    }
  }
  if (!t->levels) return Status::Ok();
  // Categories fewer than min_rows rows hold are folded into "other"; while "other" holds fewer
  // rows than that too, the next smallest named ones join it, since rows - missing - the named
  // counts would give its count.
  std::vector<std::pair<uint64_t, std::string>> by_count;
  for (const auto& [level, count] : t->counts) by_count.emplace_back(count, level);
  std::sort(by_count.begin(), by_count.end());
  uint64_t other = 0;
  size_t folded = 0, rare = 0;
  for (const auto& [count, level] : by_count) {
    if (count >= min_rows && (other == 0 || other >= min_rows)) break;
    rare += count < min_rows;
    other += count;
    ++folded;
    t->counts.erase(level);
  }
  if (folded == 0) return Status::Ok();
  if (spec.rare_categories == "refuse") {
    return PermissionDenied(Refusal(spec) + ": column '" + t->name + "' holds " + std::to_string(rare) +
                            " categories that fewer than " + std::to_string(min_rows) +
                            " rows hold, and the site refuses to fit on them (site.json: \"rare_categories\": "
                            "\"refuse\"); leave the column out or give its levels in the job");
  }
  (*out)["other"] = true;
  return Status::Ok();
}

}  // namespace

Result<nlohmann::json> DescribeColumns(const DatasetSpec& spec, const CsvOptions& options,
                                       const std::vector<std::string>& names, const nlohmann::json& queries,
                                       uint64_t min_aggregate_rows) {
  if (spec.privacy == PrivacyLevel::kDpAggregate) {
    return PermissionDenied(Refusal(spec) +
                            ": it releases no statistics for fitting a transform, and its rows are read without one "
                            "(its noise is calibrated to the declared bounds of its raw numeric columns)");
  }
  if (spec.privacy == PrivacyLevel::kPrivate) {
    return PermissionDenied(Refusal(spec) +
                            ": it releases no statistics for fitting a transform; give the transform fitted in the "
                            "job (levels, impute values, scale centre and divisor, bin edges)");
  }
  if (spec.format != "csv") return InvalidArgument("dataset '" + spec.name + "': transforms read CSV datasets");
  if (!queries.is_object() || queries.empty()) {
    return InvalidArgument("describe: params.columns must be an object of column queries");
  }
  const bool aggregate = spec.privacy == PrivacyLevel::kPrivateAggregate;
  std::vector<ColumnTally> tallies;
  for (const auto& [column, q] : queries.items()) {
    const auto it = std::find(names.begin(), names.end(), column);
    if (it == names.end()) return InvalidArgument("dataset '" + spec.name + "' has no column '" + column + "'");
    ColumnTally t;
    t.name = column;
    t.field = static_cast<size_t>(it - names.begin());
    FEDRA_RETURN_IF_ERROR(ParseQuery(q, "describe: " + column, &t));
    if (aggregate && (t.range || !t.bins.empty())) {
      return PermissionDenied(Refusal(spec) + ": the range and quantiles of column '" + column +
                              "' are single rows' values (order statistics); use \"impute\": \"mean\", "
                              "\"scale\": \"standard\", or give the values in the job");
    }
    tallies.push_back(std::move(t));
  }

  Status failed;
  const Status scanned = ScanCsvFile(spec.path.string(), options, [&](size_t line, const std::vector<std::string>& f) {
    const std::string at = options.locate_cells ? "line " + std::to_string(line) + ", " : "";
    if (f.size() != names.size()) {
      failed = DataLoss(options.source_name + ": " + at + "a record of " + std::to_string(f.size()) +
                        " fields (the header has " + std::to_string(names.size()) + ")");
      return false;
    }
    for (ColumnTally& t : tallies) {
      const std::string& cell = f[t.field];
      ++t.rows;
      if (std::find(spec.missing.begin(), spec.missing.end(), cell) != spec.missing.end()) {
        ++t.missing;
        continue;
      }
      if (t.levels) {
        auto c = t.counts.find(cell);
        if (c == t.counts.end()) {
          if (t.counts.size() == kMaxLevels) {
            failed = InvalidArgument(options.source_name + ": column '" + t.name + "' holds more than " +
                                     std::to_string(kMaxLevels) + " distinct values: an identifier, not a category");
            return false;
          }
          c = t.counts.emplace(cell, 0).first;
        }
        ++c->second;
      }
      if (!t.numbers()) continue;
      double v = 0;
      if (!ParseCsvNumber(cell, &v) || !std::isfinite(v)) {
        failed = DataLoss(options.source_name + ": " + at + "column \"" + t.name +
                          "\": " + (options.locate_cells ? "cannot read \"" + cell + "\"" : "a cell") +
                          " as a number; if the column holds categories, give it a \"coding\"");
        return false;
      }
      AddNumber(v, &t, aggregate && t.moments);
    }
    return true;
  });
  FEDRA_RETURN_IF_ERROR(scanned);
  FEDRA_RETURN_IF_ERROR(failed);

  nlohmann::json out = nlohmann::json::object();
  for (ColumnTally& t : tallies) {
    nlohmann::json c = {{"rows", t.rows}, {"missing", t.missing}};
    if (aggregate) FEDRA_RETURN_IF_ERROR(CheckPrivateAggregate(spec, min_aggregate_rows, &t, &c));
    if (t.levels) c["levels"] = t.counts;
    if (t.moments) c["moments"] = {{"n", t.n}, {"mean", t.mean}, {"m2", t.m2}};
    if (t.range && t.n > 0) c["range"] = {t.min, t.max};
    if (!t.bins.empty()) {
      nlohmann::json bins = nlohmann::json::array();
      for (const BinQuery& b : t.bins) {
        nlohmann::json min = nlohmann::json::array(), max = nlohmann::json::array();
        for (size_t k = 0; k < b.count.size(); ++k) {
          min.push_back(b.count[k] ? nlohmann::json(b.min[k]) : nlohmann::json());
          max.push_back(b.count[k] ? nlohmann::json(b.max[k]) : nlohmann::json());
        }
        bins.push_back({{"below", b.below}, {"count", b.count}, {"min", min}, {"max", max}});
      }
      c["bins"] = std::move(bins);
    }
    out[t.name] = std::move(c);
  }
  return out;
}

}  // namespace fedra
