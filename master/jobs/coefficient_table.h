// R's coefficient table as job results list it: one row per coefficient, in the model's column
// order (intercept first), so that results read like summary() in R and keep the data's order
// through JSON, where object keys would be sorted.
//
//   [{"name": "(intercept)", "estimate": -9.55, "std_error": 0.74, "z_value": -12.9, "p_value": 4e-38}, ...]
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/matrix.h"

namespace fedra {

// A test of each coefficient against zero: its standard error, statistic and two-sided p value.
struct CoefficientTests {
  const Eigen::VectorXd& std_errors;
  const Eigen::VectorXd& statistics;
  const Eigen::VectorXd& p_values;
  std::string_view statistic;  // "t_value" or "z_value"
};

// The rows of `estimates` named by `names`, with the tests' columns when given. `extra` fields
// (e.g. {"class": 2}) are added to every row.
nlohmann::json CoefficientTable(const std::vector<std::string>& names, const Eigen::VectorXd& estimates,
                                const CoefficientTests* tests = nullptr,
                                const nlohmann::json& extra = nlohmann::json::object());

}  // namespace fedra
