#include "site-agent/support.h"

#include <algorithm>
#include <limits>

namespace fedra {
namespace {

Eigen::VectorXd ZerosPerColumn(const Matrix& m) { return (m.array() == 0).cast<double>().colwise().sum().transpose(); }

Eigen::MatrixXf NonZero(const Matrix& m) { return (m.array() != 0).cast<float>(); }

}  // namespace

uint64_t CoSupport(const Matrix& a, const Matrix& b, uint64_t enough) {
  const auto n = static_cast<double>(a.rows());
  if (a.cols() == 0 || b.cols() == 0) return static_cast<uint64_t>(n);
  // Every pair has at least n - zeros(a_j) - zeros(b_l) rows: usually that settles it at once.
  const double bound = n - ZerosPerColumn(a).maxCoeff() - ZerosPerColumn(b).maxCoeff();
  if (bound >= static_cast<double>(enough)) return static_cast<uint64_t>(bound);
  // Exact counts per pair, as a product of the non-zero patterns (floats count exactly to 2^24
  // rows per block, so long inputs go in blocks).
  constexpr Eigen::Index kBlock = 1 << 22;
  Matrix counts = Matrix::Zero(a.cols(), b.cols());
  for (Eigen::Index begin = 0; begin < a.rows(); begin += kBlock) {
    const Eigen::Index rows = std::min(kBlock, a.rows() - begin);
    counts += (NonZero(a.middleRows(begin, rows)).transpose() * NonZero(b.middleRows(begin, rows))).cast<double>();
  }
  double fewest = std::numeric_limits<double>::infinity();
  for (Eigen::Index i = 0; i < counts.size(); ++i) {
    if (counts(i) > 0) fewest = std::min(fewest, counts(i));
  }
  return std::isfinite(fewest) ? static_cast<uint64_t>(fewest) : static_cast<uint64_t>(n);
}

uint64_t OperationSupport(std::string_view name, std::span<const Matrix* const> inputs, uint64_t enough) {
  const Matrix& x = *inputs[0];
  const Matrix ones = Matrix::Ones(x.rows(), 1);
  if (name == "colSums" || name == "colSumSq" || name == "moments") return CoSupport(x, ones, enough);
  if (name == "sum") return CoSupport(Matrix(x.cwiseAbs().rowwise().sum()), ones, enough);
  if (name == "tsmm") return CoSupport(x, x, enough);
  if (name == "tmatmul") return CoSupport(x, *inputs[1], enough);
  if (name == "tsmv") return CoSupport(x, Matrix(x * *inputs[1]), enough);
  if (name == "tXwXv") {
    const Matrix weighted = ((x * *inputs[2]).array().colwise() * inputs[1]->col(0).array()).matrix();
    return CoSupport(x, weighted, enough);
  }
  return static_cast<uint64_t>(x.rows());
}

}  // namespace fedra
