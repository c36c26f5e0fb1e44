#include "site-agent/dataset_profile.h"

#include <algorithm>

namespace fedra {
namespace {

bool IsNumber(const std::string& cell) {
  double value = 0;
  return ParseCsvNumber(cell, &value);
}

bool IsBoolean(const std::string& cell) {
  for (const char* b : {"true", "false", "TRUE", "FALSE", "True", "False"}) {
    if (cell == b) return true;
  }
  return false;
}

// Counts for one column while the file is read.
struct Tally {
  uint64_t numbers = 0, booleans = 0, text = 0, missing = 0;
  size_t first_text_line = 0;
  std::string first_text;
};

// "column 3 ("note")"
std::string ColumnName(size_t j, const std::vector<std::string>& names) {
  return "column " + std::to_string(j + 1) + " (\"" + names[j] + "\")";
}

}  // namespace

Result<DatasetProfile> ProfileCsv(const std::string& path, const CsvOptions& options,
                                  const std::vector<std::string>& names,
                                  const std::vector<std::string>& missing_tokens) {
  std::vector<Tally> tallies(names.size());
  uint64_t ragged = 0;
  size_t first_ragged_line = 0, first_ragged_fields = 0;
  FEDRA_RETURN_IF_ERROR(ScanCsvFile(path, options, [&](size_t line, const std::vector<std::string>& fields) {
    if (fields.size() != names.size() && ragged++ == 0) {
      first_ragged_line = line;
      first_ragged_fields = fields.size();
    }
    for (size_t j = 0; j < std::min(fields.size(), names.size()); ++j) {
      Tally& t = tallies[j];
      const std::string& cell = fields[j];
      if (std::find(missing_tokens.begin(), missing_tokens.end(), cell) != missing_tokens.end()) {
        ++t.missing;
      } else if (IsNumber(cell)) {
        ++t.numbers;
      } else if (IsBoolean(cell)) {
        ++t.booleans;
      } else if (t.text++ == 0) {
        t.first_text_line = line;
        t.first_text = cell;
      }
    }
    return true;
  }));
  DatasetProfile profile;
  for (size_t j = 0; j < names.size(); ++j) {
    const Tally& t = tallies[j];
    ColumnProfile c;
    c.missing = t.missing;
    if (t.numbers + t.booleans + t.text == 0) {
      c.type = "empty";
    } else if (t.booleans + t.text == 0) {
      c.type = "numeric";
    } else if (t.numbers + t.text == 0) {
      c.type = "boolean";
    } else {
      c.type = "categorical";
    }
    // A few words among many numbers are more likely typos or placeholders than categories.
    if (t.text > 0 && t.numbers >= 9 * (t.text + t.booleans)) {
      std::string where = options.locate_cells ? " (the first at line " + std::to_string(t.first_text_line) + ": \"" +
                                                     t.first_text + "\")"
                                               : "";
      profile.problems.push_back(ColumnName(j, names) + " holds numbers but " + std::to_string(t.text) +
                                 " cells that are not" + where +
                                 ", so it reads as categorical; if they mean a missing value, list them in the "
                                 "dataset's \"missing\" in site.json");
    }
    profile.columns.push_back(std::move(c));
  }
  if (ragged > 0) {
    profile.problems.push_back(std::to_string(ragged) + " records do not have the header's " +
                               std::to_string(names.size()) + " fields" +
                               (options.locate_cells ? " (the first at line " + std::to_string(first_ragged_line) +
                                                           ", with " + std::to_string(first_ragged_fields) + ")"
                                                     : std::string()));
  }
  return profile;
}

}  // namespace fedra
