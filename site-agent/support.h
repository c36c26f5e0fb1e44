// Effective support: how many rows stand behind the numbers of an aggregate. A sum in which only
// three rows differ from the rest is, to anyone who also knows the total or can shift the column
// by a constant, a sum of three rows, however many rows went in. The release rule of
// private-aggregate data judges what leaves by this count.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "common/matrix.h"
#include "federated/operations.h"

namespace fedra {

// How one column's values spread: the values more than a quarter of its rows hold (at most
// three), and how many rows differ from each. Since the master may shift any column by a
// constant, a product with the column sums over the rows that differ from whichever of these
// values it was shifted by, not over the non-zero ones.
struct ColumnSpread {
  struct Heavy {
    double value;
    uint64_t off;  // rows that differ from it
  };
  std::vector<Heavy> heavy;  // empty: no value is that common

  // The fewest rows that differ from one value: what a shift leaves in the column's sum.
  uint64_t fewest_off(uint64_t rows) const;
};

// The spread of each column of `m`: counted once per site variable, since values never change.
std::vector<ColumnSpread> SpreadPerColumn(const Matrix& m);

// One column per column of `m` and common value in `spread`: 1 where a row differs from that
// value. Columns without a common value give no column. Summed over a group of rows, it says
// how many of them a shifted column's sum over the group rests on.
Eigen::MatrixXf DiffersFromCommon(const Matrix& m, const std::vector<ColumnSpread>& spread);

// The fewest rows, over columns of `m`, that differ from a common value (of those that differ
// at all); `rows` when none does. The support of sums of `m`'s columns over all its rows.
uint64_t FewestDiffering(const std::vector<ColumnSpread>& spread, uint64_t rows);

// The fewest rows that differ both from a common value of a column j of `a` and from a common
// value of a column l of `b`, over the columns, their common values, and the pairs that have any
// such row: the support of each entry of t(a) %*% b, whatever constants shift the columns. Returns some value >=
// `enough` as soon as that is certain, and a.rows() when no pair has any row. The spreads, when given, are the
// matrices' SpreadPerColumn.
uint64_t CoSupport(const Matrix& a, const Matrix& b, uint64_t enough,
                   const std::vector<ColumnSpread>* a_spread = nullptr,
                   const std::vector<ColumnSpread>* b_spread = nullptr);

// The effective support of aggregating operation `op` on `inputs` (as in kernels.h), with each
// input's SpreadPerColumn where known (null otherwise).
uint64_t OperationSupport(Op op, std::span<const Matrix* const> inputs,
                          std::span<const std::vector<ColumnSpread>* const> spreads, uint64_t enough);

}  // namespace fedra
