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

namespace fedra {

// How one column's values spread: the value more than a quarter of its rows hold, if there is
// one, and how many rows differ from it. Since the master may shift any column by a constant,
// these rows, not the non-zero ones, are the ones a product with the column sums over.
struct ColumnSpread {
  bool dominant = false;  // some value is held by more than a quarter of the rows
  double value = 0;       // that value
  uint64_t off = 0;       // rows that differ from it (all rows when there is none)
};

// The spread of each column of `m`: counted once per site variable, since values never change.
std::vector<ColumnSpread> SpreadPerColumn(const Matrix& m);

// The fewest rows that differ from their columns' dominant values in both a column j of `a` and a
// column l of `b`, over the pairs (j, l) that have any such row — the support of each entry of
// t(a) %*% b. Returns some value >= `enough` as soon as that is certain, and a.rows() when no
// pair has any row. The spreads, when given, are the matrices' SpreadPerColumn.
uint64_t CoSupport(const Matrix& a, const Matrix& b, uint64_t enough, const std::vector<ColumnSpread>* a_spread = nullptr,
                   const std::vector<ColumnSpread>* b_spread = nullptr);

// The effective support of aggregating operation `name` on `inputs` (as in kernels.h), with each
// input's SpreadPerColumn where known (null otherwise).
uint64_t OperationSupport(std::string_view name, std::span<const Matrix* const> inputs,
                          std::span<const std::vector<ColumnSpread>* const> spreads, uint64_t enough);

}  // namespace fedra
