// Effective support: how many rows stand behind the numbers of an aggregate. A sum in which only
// three rows are non-zero is a sum of three rows, however many rows went in; the release rule of
// private-aggregate data judges what leaves by this count.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "common/matrix.h"

namespace fedra {

// The zeros in each column of `m`: counted once per site variable, since values never change.
std::vector<uint64_t> ZerosPerColumn(const Matrix& m);

// The fewest rows i with a(i, j) != 0 and b(i, l) != 0, over the pairs (j, l) that have at
// least one such row — the support of each entry of t(a) %*% b. Returns some value >= `enough`
// as soon as that is certain, and a.rows() when no pair has any row. `a_zeros` and `b_zeros`,
// when given, are the matrices' ZerosPerColumn.
uint64_t CoSupport(const Matrix& a, const Matrix& b, uint64_t enough, const std::vector<uint64_t>* a_zeros = nullptr,
                   const std::vector<uint64_t>* b_zeros = nullptr);

// The effective support of aggregating operation `name` on `inputs` (as in kernels.h), with each
// input's ZerosPerColumn where known (null otherwise).
uint64_t OperationSupport(std::string_view name, std::span<const Matrix* const> inputs,
                          std::span<const std::vector<uint64_t>* const> zeros, uint64_t enough);

}  // namespace fedra
