// Effective support: how many rows stand behind the numbers of an aggregate. A sum in which only
// three rows are non-zero is a sum of three rows, however many rows went in; the release rule of
// private-aggregate data judges what leaves by this count.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "common/matrix.h"

namespace fedra {

// The fewest rows i with a(i, j) != 0 and b(i, l) != 0, over the pairs (j, l) that have at
// least one such row — the support of each entry of t(a) %*% b. Returns some value >= `enough`
// as soon as that is certain, and a.rows() when no pair has any row.
uint64_t CoSupport(const Matrix& a, const Matrix& b, uint64_t enough);

// The effective support of aggregating operation `name` on `inputs` (as in kernels.h).
uint64_t OperationSupport(std::string_view name, std::span<const Matrix* const> inputs, uint64_t enough);

}  // namespace fedra
