#include "site-agent/kept_csv.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string_view>

namespace fedra {
namespace {

// Names go into a CSV header and cells unquoted: nothing that would need quoting, and nothing a
// spreadsheet would run as a formula (=, +, -, @ first), unless it is a number ("-1").
bool IsPlainCell(const std::string& s) {
  if (s.empty() || s.size() > 256 || s.find_first_of(",\"\r\n\t") != std::string::npos) return false;
  if (std::string_view("=+-@").find(s[0]) == std::string_view::npos) return true;
  char* end = nullptr;
  std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size();
}

}  // namespace

Result<KeptCsv> KeptCsv::Make(const nlohmann::json& params, int64_t cols) {
  KeptCsv out;
  const auto columns = params.find("columns");
  if (columns == params.end() || !columns->is_array() || static_cast<int64_t>(columns->size()) != cols) {
    return InvalidArgument("params.columns must name each of the " + std::to_string(cols) + " columns");
  }
  std::set<std::string> seen;
  for (const nlohmann::json& c : *columns) {
    if (!c.is_string() || !IsPlainCell(c.get<std::string>()) || !seen.insert(c.get<std::string>()).second) {
      return InvalidArgument(
          "params.columns: each name must be distinct text of 1 to 256 characters without a comma, "
          "quote, tab or line break, not starting with =, +, - or @ unless a number");
    }
    out.columns.push_back(c.get<std::string>());
  }
  const auto levels = params.find("levels");
  if (levels == params.end()) return out;
  if (!levels->is_object()) return InvalidArgument("params.levels must be an object of column: [names]");
  for (const auto& [column, names] : levels->items()) {
    const auto at = std::find(out.columns.begin(), out.columns.end(), column);
    if (at == out.columns.end()) return InvalidArgument("params.levels: no column '" + column + "'");
    if (!names.is_array() || names.size() > (1u << 16)) {
      return InvalidArgument("params.levels." + column + ": expected an array of names");
    }
    std::vector<std::string>& list = out.levels[static_cast<size_t>(at - out.columns.begin())];
    for (const nlohmann::json& n : names) {
      if (!n.is_string() || !IsPlainCell(n.get<std::string>())) {
        return InvalidArgument("params.levels." + column +
                               ": each name must be text of 1 to 256 characters without a comma, quote, tab or line "
                               "break, not starting with =, +, - or @ unless a number");
      }
      list.push_back(n.get<std::string>());
    }
  }
  return out;
}

std::string KeptCsv::Text(const Matrix& values) const {
  std::string out;
  for (size_t j = 0; j < columns.size(); ++j) out += (j ? "," : "") + columns[j];
  out += '\n';
  char number[32];
  for (Eigen::Index i = 0; i < values.rows(); ++i) {
    for (Eigen::Index j = 0; j < values.cols(); ++j) {
      if (j) out += ',';
      const double v = values(i, j);
      if (std::isnan(v)) continue;
      const auto named = levels.find(static_cast<size_t>(j));
      if (named != levels.end() && v >= 0 && v == std::floor(v) && v < static_cast<double>(named->second.size())) {
        out += named->second[static_cast<size_t>(v)];
        continue;
      }
      std::snprintf(number, sizeof(number), "%.17g", v);
      out += number;
    }
    out += '\n';
  }
  return out;
}

}  // namespace fedra
