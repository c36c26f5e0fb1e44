#include "master/tensor/federated_transform.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "common/csv_reader.h"

namespace fedra {
namespace {

// Bins per step of the quantile search: each step narrows the interval at least this much.
constexpr int64_t kSearchBins = 256;
constexpr int kMaxSearchSteps = 40;

// Count, mean and sum of squared deviations of a group of numbers.
struct Moments {
  double n = 0, mean = 0, m2 = 0;

  // Chan et al.'s exact combination of two groups' moments.
  void Add(const Moments& o) {
    if (o.n == 0) return;
    const double total = n + o.n, delta = o.mean - mean;
    mean += delta * o.n / total;
    m2 += o.m2 + delta * delta * n * o.n / total;
    n = total;
  }
};

// One column's aggregates, summed over the sites.
struct Pooled {
  uint64_t rows = 0, missing = 0;
  std::map<std::string, uint64_t> counts;
  bool other = false;
  uint64_t other_rows = 0;
  Moments moments;
  double min = std::numeric_limits<double>::infinity(), max = -std::numeric_limits<double>::infinity();
};

nlohmann::json QueryFor(const ColumnTransform& c) {
  nlohmann::json q = nlohmann::json::object();
  if (c.categorical && c.levels.empty()) q["levels"] = true;
  if (c.impute == Impute::kMode && c.fill.is_null()) q["levels"] = true;
  if ((c.impute == Impute::kMean && c.fill.is_null()) || (c.scale == Scaling::kStandard && !c.divisor)) {
    q["moments"] = true;
  }
  if ((c.impute == Impute::kMedian && c.fill.is_null()) || (c.scale == Scaling::kMinMax && !c.divisor) ||
      (c.bin != Binning::kNone && c.edges.empty())) {
    q["range"] = true;
  }
  return q;
}

// Sends `queries` ({column: query}) to every site; returns each site's {column: answer}.
Result<std::vector<nlohmann::json>> Ask(Federation& fed, const std::string& dataset, const nlohmann::json& queries) {
  SiteResponses responses = fed.CallAll({Request::Describe(dataset, queries)});
  if (Status s = FirstError(responses); !s.ok()) return s.WithContext("fitting the transform of '" + dataset + "'");
  std::vector<std::string> sites = fed.site_names();
  std::vector<nlohmann::json> out;
  for (const std::string& site : sites)
    out.push_back(responses.at(site)->front().meta.value("columns", nlohmann::json()));
  return out;
}

Pooled Pool(const std::vector<nlohmann::json>& answers, const std::string& column) {
  Pooled p;
  for (const nlohmann::json& site : answers) {
    const nlohmann::json& a = site.at(column);
    p.rows += a.value("rows", uint64_t{0});
    p.missing += a.value("missing", uint64_t{0});
    if (const auto levels = a.find("levels"); levels != a.end()) {
      for (const auto& [level, count] : levels->items()) p.counts[level] += count.get<uint64_t>();
    }
    p.other = p.other || a.value("other", false);
    p.other_rows += a.value("other_rows", uint64_t{0});
    if (const auto m = a.find("moments"); m != a.end()) {
      p.moments.Add({(*m)["n"].get<double>(), (*m)["mean"].get<double>(), (*m)["m2"].get<double>()});
    }
    if (const auto r = a.find("range"); r != a.end()) {
      p.min = std::min(p.min, (*r)[0].get<double>());
      p.max = std::max(p.max, (*r)[1].get<double>());
    }
  }
  return p;
}

// The values of 1-based `ranks` among the n observed values of `column`, which lie in [lo, hi]:
// each step asks every site for bin counts over the interval that holds a rank, and narrows it
// to the smallest and largest value of the bin the rank falls in, until those are equal.
Result<std::vector<double>> OrderStatistics(Federation& fed, const std::string& dataset, const std::string& column,
                                            std::vector<uint64_t> ranks, double lo, double hi) {
  struct Search {
    uint64_t rank;
    double lo, hi;
    bool done = false;
  };
  std::vector<Search> searches;
  for (uint64_t k : ranks) searches.push_back({k, lo, hi, lo == hi});
  for (int step = 0; step < kMaxSearchSteps; ++step) {
    nlohmann::json bins = nlohmann::json::array();
    std::vector<size_t> asked;
    for (size_t i = 0; i < searches.size(); ++i) {
      if (searches[i].done) continue;
      bins.push_back({searches[i].lo, searches[i].hi, kSearchBins});
      asked.push_back(i);
    }
    if (asked.empty()) break;
    FEDRA_ASSIGN_OR_RETURN(const std::vector<nlohmann::json> answers,
                           Ask(fed, dataset, {{column, {{"bins", std::move(bins)}}}}));
    for (size_t q = 0; q < asked.size(); ++q) {
      Search& s = searches[asked[q]];
      std::vector<uint64_t> count(kSearchBins, 0);
      std::vector<double> min(kSearchBins, HUGE_VAL), max(kSearchBins, -HUGE_VAL);
      uint64_t below = 0;
      for (const nlohmann::json& site : answers) {
        const nlohmann::json& b = site.at(column).at("bins").at(q);
        below += b["below"].get<uint64_t>();
        for (size_t k = 0; k < count.size(); ++k) {
          count[k] += b["count"][k].get<uint64_t>();
          if (!b["min"][k].is_null()) min[k] = std::min(min[k], b["min"][k].get<double>());
          if (!b["max"][k].is_null()) max[k] = std::max(max[k], b["max"][k].get<double>());
        }
      }
      uint64_t seen = below;
      size_t k = 0;
      while (k < count.size() && seen + count[k] < s.rank) seen += count[k++];
      if (k == count.size()) {
        return Internal("fitting the transform: column '" + column + "': the sites' counts do not reach rank " +
                        std::to_string(s.rank) + " (did a file change?)");
      }
      s.lo = min[k];
      s.hi = max[k];
      s.done = s.lo == s.hi;
    }
  }
  std::vector<double> out;
  for (const Search& s : searches) {
    if (!s.done) return Internal("fitting the transform: column '" + column + "': the quantile search did not settle");
    out.push_back(s.lo);
  }
  return out;
}

// R's quantile(x, probs) (type 7) of the n observed values of `column`, which lie in [min, max].
Result<std::vector<double>> Quantiles(Federation& fed, const std::string& dataset, const std::string& column,
                                      uint64_t n, double min, double max, const std::vector<double>& probs) {
  std::vector<uint64_t> ranks;
  for (double p : probs) {
    const auto below = static_cast<uint64_t>(std::floor(static_cast<double>(n - 1) * p));
    ranks.push_back(below + 1);
    ranks.push_back(std::min(below + 2, n));
  }
  FEDRA_ASSIGN_OR_RETURN(const std::vector<double> values, OrderStatistics(fed, dataset, column, ranks, min, max));
  std::vector<double> out;
  for (size_t i = 0; i < probs.size(); ++i) {
    const double h = static_cast<double>(n - 1) * probs[i];
    const double frac = h - std::floor(h);
    out.push_back(values[2 * i] + frac * (values[2 * i + 1] - values[2 * i]));
  }
  return out;
}

Status FitColumn(Federation& fed, const std::string& dataset, const Pooled& p, ColumnTransform* c) {
  const std::string where = "fitting the transform: column '" + c->column + "'";
  const uint64_t observed = p.rows - p.missing;
  if (observed == 0 && (c->impute != Impute::kValue || c->scale != Scaling::kNone || c->bin != Binning::kNone)) {
    return FailedPrecondition(where + ": no site holds a value in it");
  }
  // Imputation first: the other statistics count the imputed cells.
  if (c->fill.is_null() && c->impute == Impute::kMean) c->fill = p.moments.mean;
  if (c->fill.is_null() && c->impute == Impute::kMode) {
    const auto mode = std::max_element(p.counts.begin(), p.counts.end(),
                                       [](const auto& a, const auto& b) { return a.second < b.second; });
    if (mode == p.counts.end()) return FailedPrecondition(where + ": no category is common enough to be its mode");
    double number = 0;
    if (c->categorical) {
      c->fill = mode->first;
    } else if (ParseCsvNumber(mode->first, &number)) {
      c->fill = number;
    }
  }
  if (c->fill.is_null() && c->impute == Impute::kMedian) {
    FEDRA_ASSIGN_OR_RETURN(const std::vector<double> median,
                           Quantiles(fed, dataset, c->column, observed, p.min, p.max, {0.5}));
    c->fill = median[0];
  }
  if (c->fill.is_number() && c->categorical) c->fill = c->fill.dump();
  const bool filled = p.missing > 0 && c->fill.is_number();
  const double fill = c->fill.is_number() ? c->fill.get<double>() : 0;

  if (c->categorical && c->levels.empty()) {
    for (const auto& [level, count] : p.counts) c->levels.push_back(level);
    if (c->fill.is_string() && p.missing > 0 && !p.counts.contains(c->fill.get<std::string>())) {
      c->levels.push_back(c->fill.get<std::string>());
    }
    SortLevels(&c->levels);
    // First, so that dummy coding makes it the reference: the rare rows get no indicator of
    // their own, whose sums would rest on too few rows to leave their site.
    if (p.other) c->levels.insert(c->levels.begin(), std::string(kOtherLevel));
    if (c->coding == Coding::kLabel && c->levels.size() < 2) {
      return FailedPrecondition(where + ": as a label it holds " + std::to_string(c->levels.size()) +
                                " class the sites may name, and a classifier needs two or more (private-aggregate "
                                "sites count values that fewer than their minimum of rows hold as one, \"" +
                                std::string(kOtherLevel) + "\")");
    }
    const size_t least = c->coding == Coding::kOneHot ? 1 : 2;
    if (c->levels.size() < least) {
      return FailedPrecondition(where + ": it holds " + std::to_string(c->levels.size()) +
                                " category at the sites, too few to code (leave it out)");
    }
  }
  if (c->scale == Scaling::kStandard && !c->divisor) {
    Moments m = p.moments;
    if (filled) m.Add({static_cast<double>(p.missing), fill, 0});
    const double sd = m.n > 1 ? std::sqrt(m.m2 / (m.n - 1)) : 0;
    if (!(sd > 0)) return FailedPrecondition(where + ": it is constant, so it cannot be standardised (leave it out)");
    c->centre = m.mean;
    c->divisor = sd;
  }
  const double min = filled ? std::min(p.min, fill) : p.min, max = filled ? std::max(p.max, fill) : p.max;
  if (c->scale == Scaling::kMinMax && !c->divisor) {
    if (!(max > min)) return FailedPrecondition(where + ": it is constant, so it cannot be scaled (leave it out)");
    c->centre = min;
    c->divisor = max - min;
  }
  if (c->bin == Binning::kEquiWidth && c->edges.empty()) {
    for (int b = 0; b <= c->bins; ++b) c->edges.push_back(p.min + (p.max - p.min) * b / c->bins);
  }
  if (c->bin == Binning::kEquiHeight && c->edges.empty()) {
    std::vector<double> probs;
    for (int b = 1; b < c->bins; ++b) probs.push_back(static_cast<double>(b) / c->bins);
    FEDRA_ASSIGN_OR_RETURN(const std::vector<double> inner,
                           Quantiles(fed, dataset, c->column, observed, p.min, p.max, probs));
    c->edges.push_back(p.min);
    c->edges.insert(c->edges.end(), inner.begin(), inner.end());
    c->edges.push_back(p.max);
  }
  return Status::Ok();
}

}  // namespace

Result<Transform> FitTransform(Federation& fed, const std::string& dataset, Transform spec) {
  nlohmann::json queries = nlohmann::json::object();
  for (const ColumnTransform& c : spec.columns) {
    if (nlohmann::json q = QueryFor(c); !c.fitted() && !q.empty()) queries[c.column] = std::move(q);
  }
  if (queries.empty()) return spec;
  FEDRA_ASSIGN_OR_RETURN(const std::vector<nlohmann::json> answers, Ask(fed, dataset, queries));
  for (ColumnTransform& c : spec.columns) {
    if (!queries.contains(c.column)) continue;
    FEDRA_RETURN_IF_ERROR(FitColumn(fed, dataset, Pool(answers, c.column), &c));
  }
  return spec;
}

}  // namespace fedra
