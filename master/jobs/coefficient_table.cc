#include "master/jobs/coefficient_table.h"

namespace fedra {

nlohmann::json CoefficientTable(const std::vector<std::string>& names, const Eigen::VectorXd& estimates,
                                const CoefficientTests* tests, const nlohmann::json& extra) {
  nlohmann::json rows = nlohmann::json::array();
  for (size_t j = 0; j < names.size(); ++j) {
    const auto i = static_cast<Eigen::Index>(j);
    nlohmann::json row = extra;
    row["name"] = names[j];
    row["estimate"] = estimates(i);
    if (tests != nullptr && tests->std_errors.size() == estimates.size()) {
      row["std_error"] = tests->std_errors(i);
      row[std::string(tests->statistic)] = tests->statistics(i);
      row["p_value"] = tests->p_values(i);
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace fedra
