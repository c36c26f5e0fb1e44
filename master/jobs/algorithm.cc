#include "master/jobs/algorithm.h"

#include <algorithm>

#include "common/config.h"

namespace fedra {

bool AlgorithmInfo::Takes(std::string_view section) const {
  return std::find(sections.begin(), sections.end(), section) != sections.end();
}

nlohmann::json AlgorithmInfo::ToJson() const {
  nlohmann::json list = nlohmann::json::array();
  for (const ParamInfo& p : params) {
    nlohmann::json entry = {
        {"name", p.name}, {"type", p.type}, {"required", p.default_value.is_null()}, {"doc", p.doc}};
    if (!p.default_value.is_null()) entry["default"] = p.default_value;
    if (p.type == "number" || p.type == "integer") entry["range"] = {p.min, p.max};
    if (p.type == "string") entry["choices"] = p.choices;
    list.push_back(std::move(entry));
  }
  return {{"name", name},
          {"summary", summary},
          {"label", needs_label ? "required" : "none"},
          {"holdout", scores_held_out},
          {"sections", sections},
          {"params", list}};
}

Result<nlohmann::json> ReadParams(const std::vector<ParamInfo>& params, const nlohmann::json& given,
                                  const std::string& where) {
  JsonFields f(given, where);
  nlohmann::json values = nlohmann::json::object();
  for (const ParamInfo& p : params) {
    const bool required = p.default_value.is_null();
    if (p.type == "number") {
      double v = required ? 0 : p.default_value.get<double>();
      FEDRA_RETURN_IF_ERROR(required ? f.Required(p.name, &v, p.min, p.max) : f.Optional(p.name, &v, p.min, p.max));
      values[p.name] = v;
    } else if (p.type == "integer") {
      int64_t v = required ? 0 : p.default_value.get<int64_t>();
      const auto lo = static_cast<int64_t>(p.min), hi = static_cast<int64_t>(p.max);
      FEDRA_RETURN_IF_ERROR(required ? f.Required(p.name, &v, lo, hi) : f.Optional(p.name, &v, lo, hi));
      values[p.name] = v;
    } else if (p.type == "boolean") {
      bool v = p.default_value.get<bool>();  // a boolean always has a default
      FEDRA_RETURN_IF_ERROR(f.Optional(p.name, &v));
      values[p.name] = v;
    } else if (p.type == "string") {
      std::string v = p.default_value.get<std::string>();  // a string parameter always has a default
      FEDRA_RETURN_IF_ERROR(f.Optional(p.name, &v));
      if (std::find(p.choices.begin(), p.choices.end(), v) == p.choices.end()) {
        std::string allowed;
        for (const std::string& c : p.choices) allowed += (allowed.empty() ? "" : ", ") + c;
        return InvalidArgument(where + "." + p.name + ": '" + v + "' is not one of " + allowed);
      }
      values[p.name] = v;
    } else {
      return Internal(where + "." + p.name + ": parameter type '" + p.type + "' is read by its algorithm");
    }
  }
  FEDRA_RETURN_IF_ERROR(f.Finish());
  return values;
}

}  // namespace fedra
