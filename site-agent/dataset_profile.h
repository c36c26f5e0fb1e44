// What a site learns of a CSV dataset by reading every cell once when it starts: each column's
// type and its missing cells, and problems worth telling the data owner (text in a column that is
// otherwise numbers, records with too few or too many fields). The catalog lists it, so that
// `fedra-master sites` and the dashboard show a dataset's state before any job runs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/csv_reader.h"
#include "common/status.h"

namespace fedra {

struct ColumnProfile {
  // "numeric" (every cell that is not missing is a number), "boolean" (true/false, TRUE/FALSE,
  // True/False), "categorical" (anything else), or "empty" (every cell missing).
  std::string type;
  uint64_t missing = 0;  // cells equal to a missing-value token
};

struct DatasetProfile {
  std::vector<ColumnProfile> columns;  // in file order
  std::vector<std::string> problems;
};

// Profiles the CSV at `path` read with `options`, whose columns (as ProbeCsvFile named them) are
// `names`. Cells equal to one of `missing_tokens` count as missing. Problems locate cells by line
// only when options.locate_cells (public data), as read errors do.
Result<DatasetProfile> ProfileCsv(const std::string& path, const CsvOptions& options,
                                  const std::vector<std::string>& names,
                                  const std::vector<std::string>& missing_tokens);

}  // namespace fedra
