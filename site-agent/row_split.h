// The rows a splitRows request picks: about params.fraction of them held out, drawn by a seeded
// hash, so that the same seed holds out the same rows on every run. For protected data the site
// keys the hash with its own secret (the master cannot aim a split at a row), and for
// private-aggregate data it draws whole cells (row_cells.h).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "federated/operations.h"

namespace fedra {

// The indices of the `rows` input rows on the requested side, drawn with `seed`: by row, or,
// when `cell_of_row` is given (one per row), by cell.
std::vector<uint32_t> PickRows(uint64_t rows, const SplitRowsParams& split, uint64_t seed,
                               std::span<const uint32_t> cell_of_row);

}  // namespace fedra
