#include "federated/transform.h"

#include <algorithm>
#include <cmath>
#include <string_view>
#include <unordered_set>

#include "common/config.h"
#include "common/csv_reader.h"

namespace fedra {
namespace {

constexpr int kMaxBins = 1000;

struct Named {
  std::string_view name;
  uint8_t value;
};
constexpr Named kImputes[] = {{"mean", uint8_t(Impute::kMean)},
                              {"median", uint8_t(Impute::kMedian)},
                              {"mode", uint8_t(Impute::kMode)},
                              {"value", uint8_t(Impute::kValue)}};
constexpr Named kBinnings[] = {{"equi-width", uint8_t(Binning::kEquiWidth)},
                               {"equi-height", uint8_t(Binning::kEquiHeight)}};
constexpr Named kCodings[] = {{"recode", uint8_t(Coding::kRecode)},
                              {"label", uint8_t(Coding::kLabel)},
                              {"dummy", uint8_t(Coding::kDummy)},
                              {"one-hot", uint8_t(Coding::kOneHot)}};
constexpr Named kScalings[] = {{"standard", uint8_t(Scaling::kStandard)}, {"min-max", uint8_t(Scaling::kMinMax)}};

template <typename E, size_t N>
Result<E> FromName(const std::string& name, const Named (&table)[N], const std::string& where) {
  std::string known;
  for (const Named& n : table) {
    if (n.name == name) return static_cast<E>(n.value);
    known += (known.empty() ? "" : ", ") + std::string(n.name);
  }
  return InvalidArgument(where + ": '" + name + "' is not one of " + known);
}

template <typename E, size_t N>
std::string NameOf(E value, const Named (&table)[N]) {
  for (const Named& n : table) {
    if (n.value == static_cast<uint8_t>(value)) return std::string(n.name);
  }
  return "none";
}

// A method given as "name" or as {"method": "name", <fitted fields>}: the name, and the object.
Result<std::string> MethodOf(const nlohmann::json& v, const std::string& where) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("method") && v["method"].is_string()) return v["method"].get<std::string>();
  return InvalidArgument(where + ": expected a method name, or an object with \"method\"");
}

Status ParseImpute(const nlohmann::json& v, const std::string& where, ColumnTransform* c) {
  // {"value": x} alone is a constant.
  if (v.is_object() && !v.contains("method") && v.contains("value")) {
    c->impute = Impute::kValue;
  } else {
    FEDRA_ASSIGN_OR_RETURN(std::string method, MethodOf(v, where));
    FEDRA_ASSIGN_OR_RETURN(c->impute, FromName<Impute>(method, kImputes, where));
  }
  if (v.is_object()) {
    JsonFields f(v, where);
    (void)f.Child("method");
    if (const nlohmann::json* value = f.Child("value")) {
      if (!value->is_number() && !value->is_string()) {
        return InvalidArgument(f.Path("value") + ": expected a number or a category");
      }
      c->fill = *value;
    }
    FEDRA_RETURN_IF_ERROR(f.Finish());
  }
  if (c->impute == Impute::kValue && c->fill.is_null()) return InvalidArgument(where + ": \"value\" is required");
  return Status::Ok();
}

Status ParseBin(const nlohmann::json& v, const std::string& where, ColumnTransform* c) {
  JsonFields f(v, where);
  FEDRA_RETURN_IF_ERROR(f.status());
  std::string method;
  int64_t bins = 0;
  FEDRA_RETURN_IF_ERROR(f.Required("method", &method));
  FEDRA_ASSIGN_OR_RETURN(c->bin, FromName<Binning>(method, kBinnings, f.Path("method")));
  FEDRA_RETURN_IF_ERROR(f.Required("bins", &bins, 2, kMaxBins));
  c->bins = static_cast<int>(bins);
  if (const nlohmann::json* edges = f.Child("edges")) {
    if (!edges->is_array() || edges->size() != static_cast<size_t>(bins) + 1) {
      return InvalidArgument(f.Path("edges") + ": expected " + std::to_string(bins + 1) + " numbers");
    }
    for (const nlohmann::json& e : *edges) {
      if (!e.is_number()) return InvalidArgument(f.Path("edges") + ": expected numbers");
      c->edges.push_back(e.get<double>());
    }
    if (!std::is_sorted(c->edges.begin(), c->edges.end())) {
      return InvalidArgument(f.Path("edges") + ": must not decrease");
    }
  }
  return f.Finish();
}

Status ParseScale(const nlohmann::json& v, const std::string& where, ColumnTransform* c) {
  FEDRA_ASSIGN_OR_RETURN(std::string method, MethodOf(v, where));
  FEDRA_ASSIGN_OR_RETURN(c->scale, FromName<Scaling>(method, kScalings, where));
  if (!v.is_object()) return Status::Ok();
  JsonFields f(v, where);
  (void)f.Child("method");
  double centre = 0, divisor = 0;
  if (f.Child("centre") || f.Child("divisor")) {
    FEDRA_RETURN_IF_ERROR(f.Required("centre", &centre, -HUGE_VAL, HUGE_VAL));
    FEDRA_RETURN_IF_ERROR(f.Required("divisor", &divisor, -HUGE_VAL, HUGE_VAL));
    if (!(divisor > 0)) return InvalidArgument(f.Path("divisor") + ": must be above 0");
    c->centre = centre;
    c->divisor = divisor;
  }
  return f.Finish();
}

Result<ColumnTransform> ParseColumn(const nlohmann::json& v, const std::string& column, bool listed_categorical,
                                    const std::string& where) {
  ColumnTransform c;
  c.column = column;
  c.categorical = listed_categorical;
  JsonFields f(v, where);
  FEDRA_RETURN_IF_ERROR(f.status());
  std::string type;
  FEDRA_RETURN_IF_ERROR(f.Optional("type", &type));
  if (!type.empty() && type != "numeric" && type != "categorical") {
    return InvalidArgument(f.Path("type") + ": '" + type + "' is not one of numeric, categorical");
  }
  if (!type.empty()) c.categorical = type == "categorical";
  if (const nlohmann::json* impute = f.Child("impute")) {
    FEDRA_RETURN_IF_ERROR(ParseImpute(*impute, f.Path("impute"), &c));
  }
  if (const nlohmann::json* bin = f.Child("bin")) FEDRA_RETURN_IF_ERROR(ParseBin(*bin, f.Path("bin"), &c));
  std::string coding;
  FEDRA_RETURN_IF_ERROR(f.Optional("coding", &coding));
  if (!coding.empty()) {
    FEDRA_ASSIGN_OR_RETURN(c.coding, FromName<Coding>(coding, kCodings, f.Path("coding")));
  }
  FEDRA_RETURN_IF_ERROR(f.Optional("levels", &c.levels));
  if (const nlohmann::json* scale = f.Child("scale")) FEDRA_RETURN_IF_ERROR(ParseScale(*scale, f.Path("scale"), &c));
  FEDRA_RETURN_IF_ERROR(f.Finish());

  // A coding makes categories of a numeric column's values, as R's factor() does.
  if (c.coded() && c.bin == Binning::kNone) {
    if (type == "numeric") {
      return InvalidArgument(where +
                             ": a \"coding\" makes categories of the column's values; drop \"type\": "
                             "\"numeric\", or \"bin\" the numbers first");
    }
    c.categorical = true;
  }
  if (c.categorical && c.bin != Binning::kNone) {
    return InvalidArgument(where + ": \"bin\" takes numbers, and the column holds categories");
  }
  if (c.categorical && !c.coded()) c.coding = Coding::kDummy;
  if (c.categorical && (c.impute == Impute::kMean || c.impute == Impute::kMedian)) {
    return InvalidArgument(where + ": the " + NameOf(c.impute, kImputes) +
                           " of categories is not defined; impute \"mode\" or {\"value\": ...}");
  }
  if (!c.fill.is_null() && !c.categorical && !c.fill.is_number()) {
    return InvalidArgument(where + ": impute: the column holds numbers, so its fill value must be one");
  }
  if (c.fill.is_number() && c.categorical) c.fill = c.fill.dump();  // a category, as its text
  if (c.scale != Scaling::kNone && (c.categorical || c.coded() || c.bin != Binning::kNone)) {
    return InvalidArgument(where + ": \"scale\" takes numbers, and the column's values are coded as categories");
  }
  if (!c.levels.empty() && !c.coded()) return InvalidArgument(where + ": \"levels\" needs a \"coding\"");
  if (c.bin != Binning::kNone && c.coded() && c.levels.empty()) {
    for (int b = 1; b <= c.bins; ++b) c.levels.push_back(std::to_string(b));
  }
  if (c.bin != Binning::kNone && c.coded() && c.levels.size() != static_cast<size_t>(c.bins)) {
    return InvalidArgument(where + ": a binned column's levels are its bins, \"1\"..\"" + std::to_string(c.bins) +
                           "\"");
  }
  for (size_t i = 0; i < c.levels.size(); ++i) {
    if (std::find(c.levels.begin(), c.levels.begin() + static_cast<std::ptrdiff_t>(i), c.levels[i]) !=
        c.levels.begin() + static_cast<std::ptrdiff_t>(i)) {
      return InvalidArgument(where + ": levels: '" + c.levels[i] + "' is listed twice");
    }
  }
  if (c.coding == Coding::kDummy && !c.levels.empty() && c.levels.size() < 2) {
    return InvalidArgument(where + ": dummy coding needs at least two levels");
  }
  return c;
}

}  // namespace

bool ColumnTransform::fitted() const {
  if (impute != Impute::kNone && fill.is_null()) return false;
  if (bin != Binning::kNone && edges.size() != static_cast<size_t>(bins) + 1) return false;
  if (coded() && levels.empty()) return false;
  if (scale != Scaling::kNone && !(centre && divisor)) return false;
  return true;
}

std::vector<std::string> ColumnTransform::OutputNames() const {
  if (coding != Coding::kDummy && coding != Coding::kOneHot) return {column};
  std::vector<std::string> names;
  for (size_t i = coding == Coding::kDummy ? 1 : 0; i < levels.size(); ++i) names.push_back(column + levels[i]);
  return names;
}

bool Transform::fitted() const {
  return std::all_of(columns.begin(), columns.end(), [](const ColumnTransform& c) { return c.fitted(); });
}

size_t Transform::width() const { return OutputNames().size(); }

std::vector<std::string> Transform::OutputNames() const {
  std::vector<std::string> names;
  for (const ColumnTransform& c : columns) {
    for (std::string& n : c.OutputNames()) names.push_back(std::move(n));
  }
  return names;
}

const ColumnTransform* Transform::Find(std::string_view name) const {
  for (const ColumnTransform& c : columns) {
    if (c.column == name) return &c;
  }
  return nullptr;
}

nlohmann::json Transform::ToJson() const {
  nlohmann::json out = nlohmann::json::object();
  for (const ColumnTransform& c : columns) {
    nlohmann::json j = {{"type", c.categorical ? "categorical" : "numeric"}};
    if (c.impute != Impute::kNone) {
      j["impute"] = {{"method", NameOf(c.impute, kImputes)}};
      if (!c.fill.is_null()) j["impute"]["value"] = c.fill;
    }
    if (c.bin != Binning::kNone) {
      j["bin"] = {{"method", NameOf(c.bin, kBinnings)}, {"bins", c.bins}};
      if (!c.edges.empty()) j["bin"]["edges"] = c.edges;
    }
    if (c.coded()) j["coding"] = NameOf(c.coding, kCodings);
    if (!c.levels.empty() && c.bin == Binning::kNone) j["levels"] = c.levels;
    if (c.scale != Scaling::kNone) {
      j["scale"] = {{"method", NameOf(c.scale, kScalings)}};
      if (c.centre && c.divisor) {
        j["scale"]["centre"] = *c.centre;
        j["scale"]["divisor"] = *c.divisor;
      }
    }
    out[c.column] = std::move(j);
  }
  return out;
}

Result<Transform> Transform::Parse(const nlohmann::json& spec, const std::vector<std::string>& columns,
                                   const std::vector<std::string>& categorical, std::string_view where,
                                   Coding default_coding) {
  const std::string at(where);
  if (!spec.is_null() && !spec.is_object()) return InvalidArgument(at + ": expected an object of columns");
  if (spec.is_object()) {
    for (const auto& [name, v] : spec.items()) {
      if (std::find(columns.begin(), columns.end(), name) == columns.end()) {
        return InvalidArgument(at + "." + name + ": the job reads no column '" + name + "'");
      }
    }
  }
  Transform t;
  const std::unordered_set<std::string_view> categories(categorical.begin(), categorical.end());
  for (const std::string& name : columns) {
    const bool listed = categories.contains(name);
    const bool given = spec.is_object() && spec.contains(name);
    ColumnTransform c;
    if (given) {
      FEDRA_ASSIGN_OR_RETURN(c, ParseColumn(spec[name], name, listed, at + "." + name));
    } else {
      c.column = name;
      c.categorical = listed;
      if (listed) c.coding = default_coding;
    }
    t.columns.push_back(std::move(c));
  }
  return t;
}

void SortLevels(std::vector<std::string>* levels) {
  std::vector<std::pair<double, std::string>> numbers;
  for (const std::string& l : *levels) {
    double v = 0;
    if (!ParseCsvNumber(l, &v)) {
      std::sort(levels->begin(), levels->end());
      return;
    }
    numbers.emplace_back(v, l);
  }
  std::sort(numbers.begin(), numbers.end());
  for (size_t i = 0; i < numbers.size(); ++i) (*levels)[i] = std::move(numbers[i].second);
}

// ---- Encoding ----------------------------------------------------------------------------------

Result<RowEncoder> RowEncoder::Make(const Transform& transform, std::vector<std::string> missing) {
  if (!transform.fitted()) return FailedPrecondition("the transform is not fitted");
  RowEncoder e;
  e.transform_ = transform;
  e.missing_ = std::move(missing);
  for (size_t i = 0; i < e.transform_.columns.size(); ++i) {
    const ColumnTransform& spec = e.transform_.columns[i];
    Column c{i, {}, -1, 0, false};
    for (size_t l = 0; l < spec.levels.size(); ++l) c.codes.emplace(spec.levels[l], static_cast<int>(l));
    if (auto it = c.codes.find(kOtherLevel); it != c.codes.end()) c.other = it->second;
    if (!spec.fill.is_null()) {
      c.has_fill = true;
      if (spec.fill.is_number()) c.fill_number = spec.fill.get<double>();
    }
    e.columns_.push_back(std::move(c));
  }
  return e;
}

Result<double> RowEncoder::Number(const Column& c, std::string_view cell, bool quote_cells) const {
  double v = 0;
  if (ParseCsvNumber(cell, &v) && std::isfinite(v)) return v;
  const std::string& name = transform_.columns[c.index].column;
  return DataLoss("column \"" + name + "\": " + (quote_cells ? "cannot read \"" + std::string(cell) + "\"" : "a cell") +
                  " as a finite number; if the column holds categories, give it a \"coding\" in the job's "
                  "data.transform");
}

Result<int> RowEncoder::Code(const Column& c, std::string_view cell, bool quote_cells) const {
  if (auto it = c.codes.find(cell); it != c.codes.end()) return it->second;
  if (c.other >= 0) return c.other;
  const ColumnTransform& spec = transform_.columns[c.index];
  return DataLoss("column \"" + spec.column +
                  "\": " + (quote_cells ? "\"" + std::string(cell) + "\" is" : "a cell holds a category that is") +
                  " not one of its " + std::to_string(spec.levels.size()) +
                  " levels (those fitted over all sites, or given in the job's data.transform)");
}

Status RowEncoder::Encode(const std::vector<std::string_view>& cells, bool quote_cells, double* out) const {
  for (size_t i = 0; i < columns_.size(); ++i) {
    const Column& c = columns_[i];
    const ColumnTransform& spec = transform_.columns[i];
    std::string_view cell = cells[i];
    const bool missing = std::find(missing_.begin(), missing_.end(), cell) != missing_.end();
    if (missing && !c.has_fill) {
      return DataLoss("column \"" + spec.column +
                      "\": a missing value; impute it in the job's data.transform (\"impute\": \"mean\", \"median\", "
                      "\"mode\" or {\"value\": ...})");
    }
    std::string fill_text;
    if (missing && spec.fill.is_string()) {
      fill_text = spec.fill.get<std::string>();
      cell = fill_text;
    }
    int code = 0;
    if (!spec.categorical) {
      double v = c.fill_number;
      if (!missing) {
        FEDRA_ASSIGN_OR_RETURN(v, Number(c, cell, quote_cells));
      }
      if (spec.bin == Binning::kNone) {
        *out++ = spec.scale == Scaling::kNone ? v : (v - *spec.centre) / *spec.divisor;
        continue;
      }
      // Bin b (1-based) holds edges[b-1] <= v < edges[b]; the last also its upper edge, and
      // values beyond the edges go to the nearest bin.
      const int bin =
          static_cast<int>(std::upper_bound(spec.edges.begin() + 1, spec.edges.end() - 1, v) - spec.edges.begin());
      if (!spec.coded()) {
        *out++ = bin;
        continue;
      }
      code = bin - 1;  // the levels are the bins, "1".."B"
    } else {
      FEDRA_ASSIGN_OR_RETURN(code, Code(c, cell, quote_cells));
    }
    switch (spec.coding) {
      case Coding::kRecode: *out++ = code + 1; break;
      case Coding::kLabel: *out++ = code; break;
      case Coding::kDummy:
      case Coding::kOneHot:
        for (int l = spec.coding == Coding::kDummy ? 1 : 0; l < static_cast<int>(spec.levels.size()); ++l) {
          *out++ = l == code ? 1.0 : 0.0;
        }
        break;
      case Coding::kNone: break;
    }
  }
  return Status::Ok();
}

}  // namespace fedra
