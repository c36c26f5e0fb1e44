#include "site-agent/row_cells.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace fedra {

RowCells MakeCells(const Matrix& x, uint64_t min_rows) {
  const auto n = static_cast<size_t>(x.rows());
  const size_t least = static_cast<size_t>(std::max<uint64_t>(min_rows, 1));
  RowCells cells;
  cells.cell_of.assign(n, 0);
  // Standardised columns, so that the spread of each is comparable; constant columns never split.
  Eigen::RowVectorXd mean = n > 0 ? Eigen::RowVectorXd(x.colwise().mean()) : Eigen::RowVectorXd::Zero(x.cols());
  Eigen::RowVectorXd scale(x.cols());
  for (Eigen::Index j = 0; j < x.cols(); ++j) {
    const double sd = n > 1 ? std::sqrt((x.col(j).array() - mean(j)).square().sum() / static_cast<double>(n)) : 0;
    scale(j) = sd > 0 ? 1 / sd : 0;
  }

  std::vector<uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0u);
  // Each pending range of `order` is one group to split or keep.
  std::vector<std::pair<size_t, size_t>> pending{{0, n}};
  std::vector<double> values, prefix, prefix_sq;
  while (!pending.empty()) {
    const auto [begin, end] = pending.back();
    pending.pop_back();
    const size_t m = end - begin;
    if (m < 2 * least || x.cols() == 0) {
      const auto id = static_cast<uint32_t>(cells.sizes.size());
      for (size_t i = begin; i < end; ++i) cells.cell_of[order[i]] = id;
      cells.sizes.push_back(static_cast<uint32_t>(m));
      continue;
    }
    // The column of widest spread in this group.
    Eigen::Index widest = 0;
    double widest_var = -1;
    for (Eigen::Index j = 0; j < x.cols(); ++j) {
      if (scale(j) == 0) continue;
      double s = 0, sq = 0;
      for (size_t i = begin; i < end; ++i) {
        const double v = (x(order[i], j) - mean(j)) * scale(j);
        s += v;
        sq += v * v;
      }
      const double var = sq / static_cast<double>(m) - (s / static_cast<double>(m)) * (s / static_cast<double>(m));
      if (var > widest_var) widest_var = var, widest = j;
    }
    std::stable_sort(order.begin() + static_cast<std::ptrdiff_t>(begin),
                     order.begin() + static_cast<std::ptrdiff_t>(end),
                     [&](uint32_t a, uint32_t b) { return x(a, widest) < x(b, widest); });
    // The cut, keeping at least `least` rows on each side, that leaves the least squared spread.
    prefix.assign(m + 1, 0);
    prefix_sq.assign(m + 1, 0);
    for (size_t i = 0; i < m; ++i) {
      const double v = x(order[begin + i], widest);
      prefix[i + 1] = prefix[i] + v;
      prefix_sq[i + 1] = prefix_sq[i] + v * v;
    }
    size_t best = m / 2;
    double best_cost = std::numeric_limits<double>::infinity();
    for (size_t c = least; c + least <= m; ++c) {
      const double left = prefix_sq[c] - prefix[c] * prefix[c] / static_cast<double>(c);
      const double rs = prefix[m] - prefix[c], rq = prefix_sq[m] - prefix_sq[c];
      const double right = rq - rs * rs / static_cast<double>(m - c);
      if (left + right < best_cost) best_cost = left + right, best = c;
    }
    pending.push_back({begin + best, end});
    pending.push_back({begin, begin + best});
  }
  return cells;
}

CellSums SumCells(const Matrix& x, std::span<const uint32_t> cell_of_row, uint32_t cells) {
  CellSums out{Matrix::Zero(cells, x.cols()), Eigen::VectorXd::Zero(cells), Eigen::VectorXd::Zero(cells)};
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    const uint32_t c = cell_of_row[static_cast<size_t>(i)];
    out.sums.row(c) += x.row(i);
    out.counts(c) += 1;
    out.squares(c) += x.row(i).squaredNorm();
  }
  return out;
}

}  // namespace fedra
