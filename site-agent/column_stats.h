// The aggregates a master fits a transform from (federated/transform.h), computed from a CSV
// dataset's raw cells in one pass and released under the dataset's privacy level: a kDescribe
// request. Per column the master asks for any of
//   {"levels": true}             each category's row count;
//   {"moments": true}            n, mean and m2 (the sum of squared deviations) of the numbers;
//   {"range": true}              the smallest and largest number;
//   {"bins": [[lo, hi, B], ...]} per query: the rows below lo, and for B equal bins over
//                                [lo, hi] (the last closed) each bin's rows, smallest and largest
//                                number: the steps of a federated search for quantiles.
// and always gets "rows" and "missing" (cells equal to a missing-value token).
//
// Privacy: public data releases all of it. Private-aggregate data releases counts and moments of
// at least min_aggregate_rows rows (moments by their effective support, support.h); a category
// fewer rows hold is folded into "other" and never named (with the next rarest until "other"
// holds that many rows too), or refused (rare_categories); ranges
// and bins are order statistics, single rows' values, and are refused. dp-aggregate and private
// data release none of it: private data takes a transform given fitted in the job, dp-aggregate
// data none (its noise is calibrated to its raw columns' bounds).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/csv_reader.h"
#include "common/status.h"
#include "site-agent/site_config.h"

namespace fedra {

// At most this many distinct categories per column: more is an identifier, not a category.
inline constexpr size_t kMaxLevels = 10000;

// Answers `queries` ({column: query}) over the CSV `spec` read with `options`, whose columns in
// file order are `names`. Returns {column: {"rows", "missing", ...}}.
Result<nlohmann::json> DescribeColumns(const DatasetSpec& spec, const CsvOptions& options,
                                       const std::vector<std::string>& names, const nlohmann::json& queries,
                                       uint64_t min_aggregate_rows);

}  // namespace fedra
