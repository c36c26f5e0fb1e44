#include "site-agent/blas.h"

#include <cblas.h>

#include <algorithm>
#include <cctype>
#include <limits>
#include <set>

namespace fedra {
namespace {

// Below this many values in X, handing the product to OpenBLAS's threads costs about what it saves.
constexpr Eigen::Index kMinBlasValues = Eigen::Index{1} << 16;

// The largest dimension (and leading dimension) BLAS's integers hold.
constexpr Eigen::Index kMaxDimension = std::numeric_limits<blasint>::max();

// Whether OpenBLAS takes X's product with a matrix of `other_cols` columns: X large enough (so not
// empty), the other not empty, and every dimension within blasint (32 bits in Debian's build).

bool UseBlas(const Matrix& x, Eigen::Index other_cols) {
  return x.size() >= kMinBlasValues && x.rows() <= kMaxDimension && x.cols() <= kMaxDimension && other_cols > 0 &&
         other_cols <= kMaxDimension;
}

blasint Dim(Eigen::Index n) { return static_cast<blasint>(n); }

// OpenBLAS's threads cost more than they save on thin products: one row times a matrix (a
// one-sample batch) took a 4-site parameter-server round from 37 to 61 ms of wall time and from
// 65 to 127 ms of CPU here. Products with a side under this stay with Eigen.
constexpr Eigen::Index kMinBlasFloatSide = 32;

// A few rows (a small batch's, untransposed) times a large matrix go row by row, each a
// matrix-vector product that reads the matrix where it lies: Eigen's general product first packs
// it, a copy of the layer's weights. For 1000 x 988 weights here, two rows took 2.4 and 2.0 times
// as long through the general product (forward and back), four rows 1.7; from eight on they are
// even. (One row is a matrix-vector product either way.) A transposed left side is the weight
// gradient's, whose few output rows are a narrow layer's units at any batch size: not measured,
// so it stays with the general product.
constexpr Eigen::Index kMaxRowsOneByOne = 4;

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

std::string BlasKernels() { return openblas_get_corename(); }

std::string BlasKernelWarning() {
#if defined(__x86_64__)
  // Only a build that picks its kernels when it loads (DYNAMIC_ARCH, as Debian's) can be told
  // otherwise; a build for one target runs what it was built for.
  if (std::string(openblas_get_config()).find("DYNAMIC_ARCH") == std::string::npos) return "";
  // OpenBLAS's x86-64 kernels that use AVX2 and FMA, or wider (as openblas_get_corename spells
  // them, compared without case).
  static const std::set<std::string> kModern = {"haswell",  "zen",        "excavator",
                                                "skylakex", "cooperlake", "sapphirerapids"};
  const std::string kernels = BlasKernels();
  std::string name = kernels;
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  __builtin_cpu_init();
  if (kModern.count(name) == 0 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    return "OpenBLAS runs its " + kernels +
           " kernels on a processor with AVX2 (it did not recognise the model); set OPENBLAS_CORETYPE=Haswell in "
           "fedra-site's environment for faster dense products and CPU training";
  }
#endif
  return "";
}

void FloatProduct(const Eigen::Ref<const Eigen::MatrixXf>& a, bool transpose_a,
                  const Eigen::Ref<const Eigen::MatrixXf>& b, bool transpose_b, Eigen::Ref<Eigen::MatrixXf> out) {
  const Eigen::Index m = out.rows(), n = out.cols(), k = transpose_a ? a.rows() : a.cols();
  const bool blas = std::min({m, n, k}) >= kMinBlasFloatSide &&
                    std::max({m, n, k, a.outerStride(), b.outerStride(), out.outerStride()}) <= kMaxDimension;
  if (!blas && !transpose_a && m <= kMaxRowsOneByOne) {
    for (Eigen::Index r = 0; r < m; ++r) {
      if (transpose_b) {
        out.row(r).noalias() = a.row(r) * b.transpose();
      } else {
        out.row(r).noalias() = a.row(r) * b;
      }
    }
    return;
  }
  if (!blas) {
    if (transpose_a && transpose_b) {
      out.noalias() = a.transpose() * b.transpose();
    } else if (transpose_a) {
      out.noalias() = a.transpose() * b;
    } else if (transpose_b) {
      out.noalias() = a * b.transpose();
    } else {
      out.noalias() = a * b;
    }
    return;
  }
  // With beta = 0, BLAS does not read `out` (the reference BLAS specifies it, OpenBLAS does it, and
  // blas_test checks it over NaN), so the trainer's megabytes of gradient need no zeroing first.
  cblas_sgemm(CblasColMajor, transpose_a ? CblasTrans : CblasNoTrans, transpose_b ? CblasTrans : CblasNoTrans, Dim(m),
              Dim(n), Dim(k), 1.0f, a.data(), Dim(a.outerStride()), b.data(), Dim(b.outerStride()), 0.0f, out.data(),
              Dim(out.outerStride()));
}

}  // namespace fedra
