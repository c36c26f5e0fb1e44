#include "site-agent/blas.h"

#include <cblas.h>

#include <limits>

namespace fedra {
namespace {

// Below this many values in X, handing the product to OpenBLAS's threads costs about what it saves.
constexpr Eigen::Index kMinBlasValues = Eigen::Index{1} << 16;

// Whether OpenBLAS takes X's product with a matrix of `other_cols` columns: X large enough (so not
// empty), the other not empty, and every dimension within blasint (32 bits in Debian's build).
bool UseBlas(const Matrix& x, Eigen::Index other_cols) {
  constexpr Eigen::Index kMaxDimension = std::numeric_limits<blasint>::max();
  return x.size() >= kMinBlasValues && x.rows() <= kMaxDimension && x.cols() <= kMaxDimension && other_cols > 0 &&
         other_cols <= kMaxDimension;
}

blasint Dim(Eigen::Index n) { return static_cast<blasint>(n); }

}  // namespace

// Both products' results start at zero although beta = 0 tells BLAS not to read them: then no
// BLAS's way of scaling by beta can turn uninitialised memory into NaN (NaN * 0 is NaN).

Matrix Gram(const Matrix& x) {
  const Eigen::Index n = x.cols();
  Matrix out = Matrix::Zero(n, n);
  // A symmetric rank update of the lower triangle: half the flops of a general product.
  if (UseBlas(x, n)) {
    cblas_dsyrk(CblasColMajor, CblasLower, CblasTrans, Dim(n), Dim(x.rows()), 1.0, x.data(), Dim(x.rows()), 0.0,
                out.data(), Dim(n));
  } else {
    out.selfadjointView<Eigen::Lower>().rankUpdate(x.transpose());
  }
  out.triangularView<Eigen::StrictlyUpper>() = out.transpose();
  return out;
}

Matrix CrossProduct(const Matrix& x, const Matrix& y) {
  if (!UseBlas(x, y.cols())) return Matrix(x.transpose() * y);
  Matrix out = Matrix::Zero(x.cols(), y.cols());
  if (y.cols() == 1) {
    cblas_dgemv(CblasColMajor, CblasTrans, Dim(x.rows()), Dim(x.cols()), 1.0, x.data(), Dim(x.rows()), y.data(), 1, 0.0,
                out.data(), 1);
  } else {
    cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, Dim(x.cols()), Dim(y.cols()), Dim(x.rows()), 1.0, x.data(),
                Dim(x.rows()), y.data(), Dim(y.rows()), 0.0, out.data(), Dim(x.cols()));
  }
  return out;
}

}  // namespace fedra
