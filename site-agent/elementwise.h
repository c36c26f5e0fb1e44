// Elementwise kernels: binary operations with R-style broadcasting of a scalar, a row vector or
// a column vector, and unary functions. Shape mismatches are errors, never asserts.
#pragma once

#include "common/matrix.h"
#include "common/status.h"
#include "federated/operations.h"

namespace fedra {

// X op Y (or Y op X when `reverse`), op one of add sub mul div lt le gt ge eq ne. Y may be 1x1,
// 1 x ncol(X), nrow(X) x 1 or the shape of X.
Result<Matrix> ElementwiseBinary(Op op, const Matrix& x, const Matrix& y, bool reverse);

// f(X) for f one of exp log abs sqrt sigmoid round.
Result<Matrix> ElementwiseUnary(Op op, const Matrix& x);

}  // namespace fedra
