// Real data sets and R's fits of them (tests/r/oracles.R): the outside oracle of the algorithm
// tests. R (r-base-core, r-cran-mass, r-cran-nnet, r-cran-jsonlite) is installed by
// scripts/install-deps.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/matrix.h"

namespace fedra::testing {

struct RCase {
  Matrix data;                       // every column, factors as codes 0..K-1
  std::vector<std::string> columns;  // the data's column names, in file order
  nlohmann::json fit;                // what R reported (see oracles.R)

  // The column called `name`; throws when there is none.
  int64_t column(const std::string& name) const;
  // Every column but `label`, in order.
  std::vector<int64_t> features_except(const std::string& label) const;
};

// Runs oracles.R for `name` into `dir` and returns R's fit; the table is left in dir/name.csv.
// Throws when R fails.
nlohmann::json RunROracle(const std::string& name, const std::filesystem::path& dir);

// RunROracle, with the (numeric) table read.
RCase LoadRCase(const std::string& name, const std::filesystem::path& dir);

// Row counts that split `rows` unevenly over three sites (about 20%, 30% and 50%).
std::vector<int> UnevenThreeWaySplit(int64_t rows);

}  // namespace fedra::testing
