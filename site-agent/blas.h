// Dense products through OpenBLAS, which runs them on several threads (all cores unless
// OPENBLAS_NUM_THREADS says otherwise) and beats Eigen's single-threaded kernels at the sizes sites
// see. Small products, where starting threads costs more than it saves, stay with Eigen.
#pragma once

#include "common/matrix.h"

namespace fedra {

// t(X) %*% X: ncol(X) x ncol(X), symmetric, both triangles filled. 0 x 0 for a matrix without
// columns; zeros for one without rows.
Matrix Gram(const Matrix& x);

// t(X) %*% Y: ncol(X) x ncol(Y). Requires nrow(X) == nrow(Y) (callers check the shapes).
Matrix CrossProduct(const Matrix& x, const Matrix& y);

}  // namespace fedra
