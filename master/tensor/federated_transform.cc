#include "master/tensor/federated_transform.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <stdexcept>

#include "common/csv_reader.h"

namespace fedra {
namespace {

// Bins per step of the quantile search: each step narrows the interval at least this much.
constexpr int64_t kSearchBins = 256;
// A step that does not narrow the interval ends the search; this bounds the round trips where
// values spread so unevenly (each bin's values 256 times the last's) that a step drops one.
constexpr int kMaxSearchSteps = 200;

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

// What one site said of one column, checked: a site's answer is data from the network.
struct BinAnswer {
  uint64_t below = 0;
  std::vector<uint64_t> count;
  std::vector<double> min, max;  // +-infinity for empty bins
};
struct ColumnAnswer {
  uint64_t rows = 0, missing = 0;
  std::map<std::string, uint64_t> counts;
  bool other = false;
  std::optional<Moments> moments;
  std::optional<std::pair<double, double>> range;
  std::vector<BinAnswer> bins;
};
using SiteAnswers = std::map<std::string, ColumnAnswer>;  // by column

uint64_t Count(const nlohmann::json& v) {
  if (!v.is_number_unsigned()) throw std::invalid_argument("a count is not a non-negative integer");
  return v.get<uint64_t>();
}

double Finite(const nlohmann::json& v) {
  if (!v.is_number() || !std::isfinite(v.get<double>())) throw std::invalid_argument("a value is not a finite number");
  return v.get<double>();
}

// Reads one column's answer to `query`; throws on anything malformed.
ColumnAnswer ReadColumn(const nlohmann::json& a, const nlohmann::json& query) {
  ColumnAnswer c;
  c.rows = Count(a.at("rows"));
  c.missing = Count(a.at("missing"));
  if (c.missing > c.rows) throw std::invalid_argument("more missing cells than rows");
  if (query.value("levels", false)) {
    for (const auto& [level, count] : a.at("levels").items()) c.counts[level] = Count(count);
    c.other = a.value("other", false);
  }
  if (query.value("moments", false)) {
    const nlohmann::json& m = a.at("moments");
    c.moments = Moments{static_cast<double>(Count(m.at("n"))), Finite(m.at("mean")), Finite(m.at("m2"))};
  }
  if (query.value("range", false) && a.contains("range")) {
    const nlohmann::json& r = a.at("range");
    if (!r.is_array() || r.size() != 2) throw std::invalid_argument("a range is not [min, max]");
    c.range = std::pair{Finite(r[0]), Finite(r[1])};
  }
  const size_t bins = query.contains("bins") ? query["bins"].size() : 0;
  if (bins > 0 && (!a.at("bins").is_array() || a["bins"].size() != bins)) throw std::invalid_argument("bins missing");
  for (size_t q = 0; q < bins; ++q) {
    const nlohmann::json& b = a["bins"][q];
    BinAnswer out;
    out.below = Count(b.at("below"));
    for (const char* key : {"count", "min", "max"}) {
      if (!b.at(key).is_array() || b[key].size() != static_cast<size_t>(kSearchBins)) {
        throw std::invalid_argument(std::string("bins.") + key + " is not " + std::to_string(kSearchBins) + " entries");
      }
    }
    for (size_t k = 0; k < static_cast<size_t>(kSearchBins); ++k) {
      out.count.push_back(Count(b["count"][k]));
      out.min.push_back(b["min"][k].is_null() ? HUGE_VAL : Finite(b["min"][k]));
      out.max.push_back(b["max"][k].is_null() ? -HUGE_VAL : Finite(b["max"][k]));
    }
    c.bins.push_back(std::move(out));
  }
  return c;
}

// What to ask the sites of column `c` to fit what it leaves open.
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

// Sends `queries` ({column: query}) to every site; returns each site's checked answers.
Result<std::vector<SiteAnswers>> Ask(Federation& fed, const std::string& dataset, const nlohmann::json& queries) {
  SiteResponses responses = fed.CallAll({Request::Describe(dataset, queries)});
  if (Status s = FirstError(responses); !s.ok()) return s.WithContext("fitting the transform of '" + dataset + "'");
  std::vector<SiteAnswers> out;
  for (const std::string& site : fed.site_names()) {
    const nlohmann::json& columns = responses.at(site)->front().meta.value("columns", nlohmann::json());
    SiteAnswers answers;
    for (const auto& [column, query] : queries.items()) {
      try {
        answers[column] = ReadColumn(columns.at(column), query);
      } catch (const std::exception& e) {
        return DataLoss("fitting the transform of '" + dataset + "': site '" + site +
                        "' answered malformed statistics for column '" + column + "': " + e.what());
      }
    }
    out.push_back(std::move(answers));
  }
  return out;
}

// One column's aggregates, summed over the sites.
struct Pooled {
  uint64_t rows = 0, missing = 0;
  std::map<std::string, uint64_t> counts;
  bool other = false;
  Moments moments;
  double min = HUGE_VAL, max = -HUGE_VAL;
};

Pooled Pool(const std::vector<SiteAnswers>& answers, const std::string& column) {
  Pooled p;
  for (const SiteAnswers& site : answers) {
    const ColumnAnswer& a = site.at(column);
    p.rows += a.rows;
    p.missing += a.missing;
    for (const auto& [level, count] : a.counts) p.counts[level] += count;
    p.other = p.other || a.other;
    if (a.moments) p.moments.Add(*a.moments);
    if (a.range) {
      p.min = std::min(p.min, a.range->first);
      p.max = std::max(p.max, a.range->second);
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
    FEDRA_ASSIGN_OR_RETURN(const std::vector<SiteAnswers> answers,
                           Ask(fed, dataset, {{column, {{"bins", std::move(bins)}}}}));
    for (size_t q = 0; q < asked.size(); ++q) {
      Search& s = searches[asked[q]];
      std::vector<uint64_t> count(kSearchBins, 0);
      std::vector<double> min(kSearchBins, HUGE_VAL), max(kSearchBins, -HUGE_VAL);
      uint64_t below = 0;
      for (const SiteAnswers& site : answers) {
        const BinAnswer& b = site.at(column).bins[q];
        below += b.below;
        for (size_t k = 0; k < count.size(); ++k) {
          count[k] += b.count[k];
          min[k] = std::min(min[k], b.min[k]);
          max[k] = std::max(max[k], b.max[k]);
        }
      }
      uint64_t seen = below;
      size_t k = 0;
      while (k < count.size() && seen + count[k] < s.rank) seen += count[k++];
      if (k == count.size() || !(min[k] >= s.lo && max[k] <= s.hi)) {
        return DataLoss("fitting the transform: column '" + column + "': the sites' bin counts do not hold rank " +
                        std::to_string(s.rank) + " of the values (did a file change?)");
      }
      if (min[k] == s.lo && max[k] == s.hi && s.lo < s.hi) {
        // The interval's smallest and largest value in one bin: its width no longer divides.
        return Internal("fitting the transform: column '" + column + "': the quantile search cannot narrow [" +
                        std::to_string(s.lo) + ", " + std::to_string(s.hi) + "]");
      }
      s.lo = min[k];
      s.hi = max[k];
      s.done = s.lo == s.hi;
    }
  }
  std::vector<double> out;
  for (const Search& s : searches) {
    if (!s.done) {
      return Internal("fitting the transform: column '" + column + "': the quantile search did not settle in " +
                      std::to_string(kMaxSearchSteps) + " steps");
    }
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
    } else if (ParseCsvNumber(mode->first, &number) && std::isfinite(number)) {
      c->fill = number;
    } else {
      return FailedPrecondition(where + ": its most common value is text, not a number: give it a \"coding\"");
    }
  }
  if (c->fill.is_null() && c->impute == Impute::kMedian) {
    FEDRA_ASSIGN_OR_RETURN(const std::vector<double> median,
                           Quantiles(fed, dataset, c->column, observed, p.min, p.max, {0.5}));
    c->fill = median[0];
  }
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
  FEDRA_ASSIGN_OR_RETURN(const std::vector<SiteAnswers> answers, Ask(fed, dataset, queries));
  for (ColumnTransform& c : spec.columns) {
    if (!queries.contains(c.column)) continue;
    FEDRA_RETURN_IF_ERROR(FitColumn(fed, dataset, Pool(answers, c.column), &c));
  }
  return spec;
}

}  // namespace fedra
