// Cells: a fixed grouping, made by the site alone, of a private-aggregate dataset's rows into
// groups of at least the site's minimum of rows, neighbours in the data kept together. k-means
// statistics and held-out splits of such data work in whole cells, so that whatever centres or
// seeds a master sends, each number it learns is a sum over whole cells, and no difference of
// such numbers can isolate fewer rows than a cell holds.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "common/matrix.h"

namespace fedra {

struct RowCells {
  std::vector<uint32_t> cell_of;  // the cell of each row of the dataset
  std::vector<uint32_t> sizes;    // rows per cell
  uint32_t count() const { return static_cast<uint32_t>(sizes.size()); }
};

// Groups the rows of `x` (all of a dataset's rows, in order) into cells of `min_rows` to
// 2 * `min_rows` - 1 rows, or one cell when there are fewer than 2 * `min_rows`: splits in two,
// again and again, along the column whose standardised values spread most, where the two halves
// leave the least squared spread. Deterministic.
RowCells MakeCells(const Matrix& x, uint64_t min_rows);

// Per-cell sums of `x`'s rows, their counts and their summed squared norms, for rows whose cells
// are `cell_of_row` (one per row of x).
struct CellSums {
  Matrix sums;              // cells x cols
  Eigen::VectorXd counts;   // cells
  Eigen::VectorXd squares;  // cells: sum of |row|^2
};
CellSums SumCells(const Matrix& x, std::span<const uint32_t> cell_of_row, uint32_t cells);

}  // namespace fedra
