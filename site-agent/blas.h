// Dense products through OpenBLAS, which runs them on several threads (all cores unless
// OPENBLAS_NUM_THREADS says otherwise) and beats Eigen's single-threaded kernels at the sizes sites
// see. Small products, where starting threads costs more than it saves, stay with Eigen.
#pragma once

#include <string>

#include "common/matrix.h"

namespace fedra {

// t(X) %*% X: ncol(X) x ncol(X), symmetric, both triangles filled. 0 x 0 for a matrix without
// columns; zeros for one without rows.
Matrix Gram(const Matrix& x);

// t(X) %*% Y: ncol(X) x ncol(Y). Requires nrow(X) == nrow(Y) (callers check the shapes).
Matrix CrossProduct(const Matrix& x, const Matrix& y);

// Which of OpenBLAS's kernels this process runs ("Haswell", "SkylakeX", ...), and a warning for
// the site's log, or "", when they are older than the processor: OpenBLAS picks them by the
// processor's model, which some virtual machines hide, and then falls back to Prescott's (SSE3),
// which trained at under half the speed of Haswell's here.
std::string BlasKernels();
std::string BlasKernelWarning();

// out = op(a) * op(b) in float32, op transposing or not; `out` has the product's shape and does
// not alias a or b. Large enough products go to OpenBLAS's sgemm, whose kernels are chosen for
// this processor at run time (AVX2, AVX-512), where Eigen's are built for baseline x86-64.
void FloatProduct(const Eigen::Ref<const Eigen::MatrixXf>& a, bool transpose_a,
                  const Eigen::Ref<const Eigen::MatrixXf>& b, bool transpose_b, Eigen::Ref<Eigen::MatrixXf> out);

}  // namespace fedra
