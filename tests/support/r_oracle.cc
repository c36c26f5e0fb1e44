#include "tests/support/r_oracle.h"

#include <fstream>
#include <stdexcept>

#include "common/csv_reader.h"
#include "tests/support/child_process.h"

namespace fedra::testing {

int64_t RCase::column(const std::string& name) const {
  for (size_t j = 0; j < columns.size(); ++j) {
    if (columns[j] == name) return static_cast<int64_t>(j);
  }
  throw std::runtime_error("R case has no column '" + name + "'");
}

std::vector<int64_t> RCase::features_except(const std::string& label) const {
  std::vector<int64_t> out;
  const int64_t skip = column(label);
  for (int64_t j = 0; j < static_cast<int64_t>(columns.size()); ++j) {
    if (j != skip) out.push_back(j);
  }
  return out;
}

nlohmann::json RunROracle(const std::string& name, const std::filesystem::path& dir) {
  const std::filesystem::path log = dir / (name + ".R.log");
  ChildProcess r({"Rscript", FEDRA_SOURCE_DIR "/tests/r/oracles.R", name, dir.string()}, log);
  const std::optional<int> exit = r.Wait(std::chrono::seconds(60));
  if (exit != 0) {
    std::ifstream in(log);
    const std::string output((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    throw std::runtime_error("Rscript oracles.R " + name + " failed (is R installed? scripts/install-deps): " + output);
  }
  std::ifstream json(dir / (name + ".json"));
  return nlohmann::json::parse(json);
}

RCase LoadRCase(const std::string& name, const std::filesystem::path& dir) {
  RCase out;
  out.fit = RunROracle(name, dir);
  Result<CsvTable> table = ReadCsvFile((dir / (name + ".csv")).string(), CsvOptions{});
  if (!table.ok()) throw std::runtime_error(table.status().ToString());
  out.data = std::move(table->values);
  out.columns = std::move(table->column_names);
  return out;
}

std::vector<int> UnevenThreeWaySplit(int64_t rows) {
  const int first = static_cast<int>(rows / 5), second = static_cast<int>(rows * 3 / 10);
  return {first, second, static_cast<int>(rows) - first - second};
}

}  // namespace fedra::testing
