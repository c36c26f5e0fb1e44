// Federated tensor metadata: which rows (or columns) of a logical matrix live at which site, under
// which variable id. The master holds only this; the values stay at the sites.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "federated/protocol.h"

namespace fedra {

enum class Partitioning {
  kRow,     // each part holds a range of rows, all columns
  kColumn,  // each part holds a range of columns, all rows
};

// Half-open index range [begin, end).
struct IndexRange {
  int64_t begin = 0;
  int64_t end = 0;
  int64_t size() const { return end - begin; }
};

struct FederatedPart {
  std::string site;
  VarId var = 0;
  IndexRange range;  // rows for kRow, columns for kColumn
};

class FederationMap {
 public:
  // Validates that the parts' ranges, in order, tile [0, rows) (kRow) or [0, cols) (kColumn)
  // exactly: no gap, no overlap, no empty part, and that no dimension is negative.
  static Result<FederationMap> Make(int64_t rows, int64_t cols, Partitioning partitioning,
                                    std::vector<FederatedPart> parts);

  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  Partitioning partitioning() const { return partitioning_; }
  const std::vector<FederatedPart>& parts() const { return parts_; }

  // The map of the transpose: dimensions swapped, row and column partitioning exchanged, the
  // same parts. No data moves.
  FederationMap Transposed() const;

 private:
  FederationMap() = default;

  int64_t rows_ = 0;
  int64_t cols_ = 0;
  Partitioning partitioning_ = Partitioning::kRow;
  std::vector<FederatedPart> parts_;
};

}  // namespace fedra
