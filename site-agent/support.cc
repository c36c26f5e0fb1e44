#include "site-agent/support.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

namespace fedra {
namespace {

// The most rows any one value of a column may hold: its commonest value's, or a quarter of them.
uint64_t MostAlike(const ColumnSpread& s, uint64_t rows) {
  return s.heavy.empty() ? rows / 4 : rows - s.fewest_off(rows);
}

uint64_t MostAlike(const std::vector<ColumnSpread>& spread, uint64_t rows) {
  uint64_t most = 0;
  for (const ColumnSpread& s : spread) most = std::max(most, MostAlike(s, rows));
  return most;
}

// For each column and each of its common values, 1 where a row differs from that value; a column
// without one gives a column of ones (no shift makes its rows vanish).
Eigen::MatrixXf Differs(const Matrix& m, const std::vector<ColumnSpread>& spread) {
  Eigen::Index width = 0;
  for (const ColumnSpread& s : spread) width += std::max<Eigen::Index>(1, static_cast<Eigen::Index>(s.heavy.size()));
  Eigen::MatrixXf out(m.rows(), width);
  Eigen::Index at = 0;
  for (Eigen::Index j = 0; j < m.cols(); ++j) {
    const ColumnSpread& s = spread[static_cast<size_t>(j)];
    if (s.heavy.empty()) out.col(at++).setOnes();
    for (const ColumnSpread::Heavy& h : s.heavy) out.col(at++) = (m.col(j).array() != h.value).cast<float>();
  }
  return out;
}

}  // namespace

uint64_t ColumnSpread::fewest_off(uint64_t rows) const {
  uint64_t fewest = rows;
  for (const Heavy& h : heavy) fewest = std::min(fewest, h.off);
  return fewest;
}

Eigen::MatrixXf DiffersFromCommon(const Matrix& m, const std::vector<ColumnSpread>& spread) {
  Eigen::Index width = 0;
  for (const ColumnSpread& s : spread) width += static_cast<Eigen::Index>(s.heavy.size());
  Eigen::MatrixXf out(m.rows(), width);
  Eigen::Index at = 0;
  for (Eigen::Index j = 0; j < m.cols(); ++j) {
    for (const ColumnSpread::Heavy& h : spread[static_cast<size_t>(j)].heavy) {
      out.col(at++) = (m.col(j).array() != h.value).cast<float>();
    }
  }
  return out;
}

uint64_t FewestDiffering(const std::vector<ColumnSpread>& spread, uint64_t rows) {
  uint64_t fewest = rows;
  for (const ColumnSpread& s : spread) {
    const uint64_t off = s.fewest_off(rows);
    if (off > 0) fewest = std::min(fewest, off);
  }
  return fewest;
}

std::vector<ColumnSpread> SpreadPerColumn(const Matrix& m) {
  const auto n = static_cast<uint64_t>(m.rows());
  std::vector<ColumnSpread> spread(static_cast<size_t>(m.cols()));
  for (Eigen::Index j = 0; j < m.cols(); ++j) {
    const double* col = m.col(j).data();
    // Misra-Gries with three counters: any value held by more than a quarter of the rows is among
    // the candidates left at the end. A second pass counts them exactly.
    std::array<double, 3> candidate{};
    std::array<uint64_t, 3> weight{};
    for (uint64_t i = 0; i < n; ++i) {
      const double v = col[i];
      size_t k = 0;
      while (k < 3 && !(weight[k] > 0 && candidate[k] == v)) ++k;
      if (k < 3) {
        ++weight[k];
        continue;
      }
      for (k = 0; k < 3 && weight[k] > 0; ++k) {
      }
      if (k < 3) {
        candidate[k] = v;
        weight[k] = 1;
      } else {
        for (uint64_t& w : weight) --w;
      }
    }
    ColumnSpread& s = spread[static_cast<size_t>(j)];
    for (size_t k = 0; k < 3; ++k) {
      if (weight[k] == 0) continue;
      const auto count = static_cast<uint64_t>(std::count(col, col + n, candidate[k]));
      if (4 * count > n) s.heavy.push_back({candidate[k], n - count});
    }
  }
  return spread;
}

uint64_t CoSupport(const Matrix& a, const Matrix& b, uint64_t enough, const std::vector<ColumnSpread>* a_spread,
                   const std::vector<ColumnSpread>* b_spread) {
  const auto n = static_cast<uint64_t>(a.rows());
  if (a.cols() == 0 || b.cols() == 0 || enough <= 1) return n;
  const std::vector<ColumnSpread> sa = a_spread ? *a_spread : SpreadPerColumn(a);
  const std::vector<ColumnSpread> sb = &a == &b ? sa : b_spread ? *b_spread : SpreadPerColumn(b);
  // Every pair has at least n minus the most alike rows of either column: usually that settles it.
  const uint64_t alike = MostAlike(sa, n) + MostAlike(sb, n);
  if (alike + enough <= n) return n - alike;
  // Exact counts per pair of columns and common values, as a product of the patterns of
  // differing rows (floats count exactly to 2^24 rows per block, so long inputs go in blocks).
  constexpr Eigen::Index kBlock = 1 << 22;
  Matrix counts;
  for (Eigen::Index begin = 0; begin < a.rows(); begin += kBlock) {
    const Eigen::Index rows = std::min(kBlock, a.rows() - begin);
    const Matrix block =
        (Differs(a.middleRows(begin, rows), sa).transpose() * Differs(b.middleRows(begin, rows), sb)).cast<double>();
    if (counts.size() == 0) counts = Matrix::Zero(block.rows(), block.cols());
    counts += block;
  }
  double fewest = std::numeric_limits<double>::infinity();
  for (Eigen::Index i = 0; i < counts.size(); ++i) {
    if (counts(i) > 0) fewest = std::min(fewest, counts(i));
  }
  return std::isfinite(fewest) ? static_cast<uint64_t>(fewest) : n;
}

uint64_t OperationSupport(Op op, std::span<const Matrix* const> inputs,
                          std::span<const std::vector<ColumnSpread>* const> spreads, uint64_t enough) {
  const Matrix& x = *inputs[0];
  const std::vector<ColumnSpread> x_spread = spreads.empty() || !spreads[0] ? SpreadPerColumn(x) : *spreads[0];
  const auto n = static_cast<uint64_t>(x.rows());
  if (op == Op::kColSums || op == Op::kColSumSq || op == Op::kSum) {
    // Each column's sum is a common value times the rows plus what the other rows add. A sum
    // of all values counts like the column sums: scaling the other columns by 0 isolates any one.
    return FewestDiffering(x_spread, n);
  }
  const std::vector<ColumnSpread>* y_spread = spreads.size() > 1 ? spreads[1] : nullptr;
  if (op == Op::kTsmm) return CoSupport(x, x, enough, &x_spread, &x_spread);
  if (op == Op::kTmatmul) return CoSupport(x, *inputs[1], enough, &x_spread, y_spread);
  if (op == Op::kTsmv) return CoSupport(x, Matrix(x * *inputs[1]), enough, &x_spread);
  if (op == Op::kTXwXv) {
    const Matrix weighted = ((x * *inputs[2]).array().colwise() * inputs[1]->col(0).array()).matrix();
    return CoSupport(x, weighted, enough, &x_spread);
  }
  return n;
}

}  // namespace fedra
