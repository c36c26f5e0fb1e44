// How a site writes a dataset it keeps from a job (a saved model's predictions) as CSV in its
// own output folder: the column names a job gave, checked, and the names of class codes.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/matrix.h"
#include "common/status.h"

namespace fedra {

struct KeptCsv {
  std::vector<std::string> columns;
  std::map<size_t, std::vector<std::string>> levels;  // by column: the name of each code 0, 1, ...

  // From a keep request's params.columns (one distinct name per column, none holding a comma,
  // quote or line break) and params.levels ({column: [names]}).
  static Result<KeptCsv> Make(const nlohmann::json& params, int64_t cols);

  // A header line, then one line per row; codes with a name are written as it, other numbers
  // with 17 significant digits, NaN as an empty cell.
  std::string Text(const Matrix& values) const;
};

}  // namespace fedra
