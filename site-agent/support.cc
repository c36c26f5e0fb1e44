#include "site-agent/support.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace fedra {
namespace {

uint64_t Most(const std::vector<uint64_t>& zeros) {
  return zeros.empty() ? 0 : *std::max_element(zeros.begin(), zeros.end());
}

Eigen::MatrixXf NonZero(const Matrix& m) { return (m.array() != 0).cast<float>(); }

}  // namespace

std::vector<uint64_t> ZerosPerColumn(const Matrix& m) {
  std::vector<uint64_t> zeros(static_cast<size_t>(m.cols()));
  for (Eigen::Index j = 0; j < m.cols(); ++j) {  // columns are contiguous: one pass over the data
    const double* col = m.col(j).data();
    zeros[static_cast<size_t>(j)] = static_cast<uint64_t>(std::count(col, col + m.rows(), 0.0));
  }
  return zeros;
}

uint64_t CoSupport(const Matrix& a, const Matrix& b, uint64_t enough, const std::vector<uint64_t>* a_zeros,
                   const std::vector<uint64_t>* b_zeros) {
  const auto n = static_cast<uint64_t>(a.rows());
  if (a.cols() == 0 || b.cols() == 0 || enough <= 1) return n;
  // Every pair has at least n - zeros(a_j) - zeros(b_l) rows: usually that settles it at once.
  const uint64_t most_a = Most(a_zeros ? *a_zeros : ZerosPerColumn(a));
  const uint64_t most_b = &a == &b ? most_a : Most(b_zeros ? *b_zeros : ZerosPerColumn(b));
  if (most_a + most_b + enough <= n) return n - most_a - most_b;
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
  return std::isfinite(fewest) ? static_cast<uint64_t>(fewest) : n;
}

uint64_t OperationSupport(std::string_view name, std::span<const Matrix* const> inputs,
                          std::span<const std::vector<uint64_t>* const> zeros, uint64_t enough) {
  const Matrix& x = *inputs[0];
  const std::vector<uint64_t>* x_zeros = zeros.empty() ? nullptr : zeros[0];
  const auto n = static_cast<uint64_t>(x.rows());
  if (name == "colSums" || name == "colSumSq" || name == "moments") {
    uint64_t fewest = n;  // over the columns with any non-zero value
    for (uint64_t z : x_zeros ? *x_zeros : ZerosPerColumn(x)) {
      if (z < n) fewest = std::min(fewest, n - z);
    }
    return fewest;
  }
  if (name == "sum") {
    const auto rows = static_cast<uint64_t>((x.array() != 0).rowwise().any().count());
    return rows > 0 ? rows : n;
  }
  if (name == "tsmm") return CoSupport(x, x, enough, x_zeros, x_zeros);
  if (name == "tmatmul") return CoSupport(x, *inputs[1], enough, x_zeros, zeros.size() > 1 ? zeros[1] : nullptr);
  if (name == "tsmv") return CoSupport(x, Matrix(x * *inputs[1]), enough, x_zeros);
  if (name == "tXwXv") {
    const Matrix weighted = ((x * *inputs[2]).array().colwise() * inputs[1]->col(0).array()).matrix();
    return CoSupport(x, weighted, enough, x_zeros);
  }
  return n;
}

}  // namespace fedra
