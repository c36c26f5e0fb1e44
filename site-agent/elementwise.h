// Elementwise kernels: binary operations with R-style broadcasting of a scalar, a row vector or
// a column vector, and unary functions. Shape mismatches are errors, never asserts.
#pragma once

#include <string_view>

#include "common/matrix.h"
#include "common/status.h"

namespace fedra {

// X op Y (or Y op X when `reverse`), op one of add sub mul div lt le gt ge eq ne. Y may be 1x1,
// 1 x ncol(X), nrow(X) x 1 or the shape of X. nullopt-like kNotFound when `op` is not binary.
Result<Matrix> ElementwiseBinary(std::string_view op, const Matrix& x, const Matrix& y, bool reverse);

// f(X) for f one of exp log abs sqrt sigmoid round.
Result<Matrix> ElementwiseUnary(std::string_view op, const Matrix& x);

}  // namespace fedra
