// Test support: R's raw tables at three in-process sites, as their owners' CSV files.
#pragma once

#include <doctest/doctest.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/csv_reader.h"
#include "master/jobs/job.h"
#include "tests/support/in_process_federation.h"
#include "tests/support/r_oracle.h"
#include "tests/support/temp_dir.h"

namespace fedra::testing {

// A CSV field as written back: quoted when it holds the delimiter or a quote.
inline std::string CsvField(const std::string& text) {
  if (text.find_first_of(",\"") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

// R's raw table `name` (text and missing cells, as tests/r/oracles.R writes it) split by rows
// over sites a, b and c (about 20%, 30% and 50%), each site's file with the columns rotated to
// its own order.
struct RTable {
  TempDir dir;
  nlohmann::json r;
  InProcessSites sites{dir.path() / "sites", {"a", "b", "c"}};
  std::unique_ptr<Federation> fed;
  std::vector<std::string> columns;               // the pooled table's header
  std::vector<std::vector<std::string>> records;  // its rows, as text, in the sites' order

  RTable(const std::string& name, const std::string& privacy) : r(RunROracle(name, dir.path())) {
    const std::string pooled = (dir.path() / (name + ".csv")).string();
    Result<CsvShape> shape = ProbeCsvFile(pooled, CsvOptions{});
    REQUIRE_MESSAGE(shape.ok(), shape.status().ToString());
    columns = shape->column_names;
    REQUIRE(ScanCsvFile(pooled, CsvOptions{}, [&](size_t, const std::vector<std::string>& fields) {
              records.push_back(fields);
              return true;
            }).ok());
    const std::vector<int> split = UnevenThreeWaySplit(static_cast<int64_t>(records.size()));
    const size_t n = shape->column_names.size();
    size_t row = 0;
    for (size_t s = 0; s < 3; ++s) {
      const std::string& site = sites.sites()[s];
      std::ofstream out(sites.kit(site) / (name + ".csv"));
      auto write = [&](const std::vector<std::string>& fields) {
        for (size_t j = 0; j < n; ++j) out << (j ? "," : "") << CsvField(fields[(j + 3 * s) % n]);
        out << "\n";
      };
      write(shape->column_names);
      for (int i = 0; i < split[s]; ++i) write(records[row++]);
      out.close();
      sites.AddDataset(site, name, name + ".csv", privacy);
    }
    sites.StartAll();
    fed = sites.Connect();
  }

  Result<nlohmann::json> Run(const nlohmann::json& spec) {
    Result<JobSpec> job = ParseJobSpec(spec, "job.json");
    if (!job.ok()) return job.status();
    return RunJob(*fed, *job);
  }

  // Describe requests the sites have answered so far.
  size_t Describes() const {
    size_t n = 0;
    for (const std::string& site : sites.sites()) {
      for (const nlohmann::json& e : sites.audit_events(site)) n += e.value("request", "") == "describe";
    }
    return n;
  }
};

}  // namespace fedra::testing
