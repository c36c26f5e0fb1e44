// The federated transform: how a job turns a dataset's raw columns (numbers, categories, missing
// cells) into the numeric matrix its algorithm reads. The master fits it once over all sites from
// federated aggregates (master/tensor/federated_transform.h); every site applies the same fitted
// transform to its own rows when it reads them (site-agent/catalog.h). One JSON form serves as the
// job's spec ("data.transform") and as the fitted result: a fitted transform given back as a spec
// is applied as it is, without fitting again.
//
//   {"Type":         {"coding": "dummy"},                  -> TypeLarge, TypeMidsize, ...
//    "Luggage.room": {"impute": "mean", "scale": "standard"},
//    "Weight":       {"bin": {"method": "equi-height", "bins": 4}},
//    "Origin":       {"coding": "label"}}                  -> codes 0..K-1 (a classifier's label)
//
// Per column, in this order: missing cells are imputed, numbers are binned, categories (or bins)
// are coded, numbers are scaled. Fitted fields: "impute": {"method", "value"}, "bin": {"method",
// "bins", "edges"}, "levels": [...], "scale": {"method", "centre", "divisor"}.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace fedra {

enum class Impute : uint8_t { kNone, kMean, kMedian, kMode, kValue };
enum class Binning : uint8_t { kNone, kEquiWidth, kEquiHeight };
// kRecode: one column of codes 1..K; kLabel: one column of codes 0..K-1 (class 0 the reference);
// kDummy: K-1 indicator columns, the first level the reference (R's treatment contrasts);
// kOneHot: K indicator columns.
enum class Coding : uint8_t { kNone, kRecode, kLabel, kDummy, kOneHot };
enum class Scaling : uint8_t { kNone, kStandard, kMinMax };

// The level that stands for the categories a private-aggregate site holds too rarely to name.
inline constexpr std::string_view kOtherLevel = "(other)";

struct ColumnTransform {
  std::string column;
  bool categorical = false;  // the cells are categories (text), not numbers

  Impute impute = Impute::kNone;
  nlohmann::json fill;  // fitted or given: the value of missing cells (a number, or a category)

  Binning bin = Binning::kNone;
  int bins = 0;
  std::vector<double> edges;  // fitted or given: bins + 1 increasing edges

  Coding coding = Coding::kNone;
  std::vector<std::string> levels;  // fitted or given: the categories (or bins "1".."B"), in code order

  Scaling scale = Scaling::kNone;
  std::optional<double> centre, divisor;  // fitted or given: x -> (x - centre) / divisor

  // The coded values are categories: text, or bin numbers.
  bool coded() const { return coding != Coding::kNone; }
  // Every value the transform needs is known (given, or fitted).
  bool fitted() const;
  // The columns it makes, named as R's model.matrix names them ("Type" + "Large").
  std::vector<std::string> OutputNames() const;
};

// A transform of the named columns, in the order they are read.
struct Transform {
  std::vector<ColumnTransform> columns;

  bool fitted() const;
  // The total number of output columns.
  size_t width() const;
  std::vector<std::string> OutputNames() const;
  // The column called `name`, or nullptr.
  const ColumnTransform* Find(std::string_view name) const;

  // {"column": {...}, ...} in the form the header describes.
  nlohmann::json ToJson() const;
  // `columns` names the columns read, in order; `spec` holds an entry for some of them (a name
  // not among them is an error). Columns without an entry are numbers, or, when `categorical`
  // holds their name, categories coded as `default_coding`.
  static Result<Transform> Parse(const nlohmann::json& spec, const std::vector<std::string>& columns,
                                 const std::vector<std::string>& categorical, std::string_view where,
                                 Coding default_coding = Coding::kDummy);
};

// R's order of a factor's levels: numerically when every level is a number, else bytewise.
void SortLevels(std::vector<std::string>* levels);

// Encodes one row's cells (one per transform column, in order; text as read) into `out`, which
// has Transform::width() entries. Built once per read, used for every row.
class RowEncoder {
 public:
  // `missing` holds the tokens that mean "no value".
  static Result<RowEncoder> Make(const Transform& transform, std::vector<std::string> missing);

  // A cell that is neither missing nor valid (text in a numeric column, an unknown category, a
  // missing cell with no imputation) fails naming the column, and its text when `quote_cells`.
  Status Encode(const std::vector<std::string_view>& cells, bool quote_cells, double* out) const;

 private:
  struct Column {
    size_t index;                                   // in transform_.columns
    std::map<std::string, int, std::less<>> codes;  // level -> code, for coded columns
    int other = -1;                                 // the code of kOtherLevel, if a level
    double fill_number = 0;
    bool has_fill = false;
  };
  Result<double> Number(const Column& c, std::string_view cell, bool quote_cells) const;
  Result<int> Code(const Column& c, std::string_view cell, bool quote_cells) const;

  Transform transform_;
  std::vector<Column> columns_;
  std::vector<std::string> missing_;
};

}  // namespace fedra
