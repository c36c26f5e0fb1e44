// Site functions for federated k-means. Rows never leave: only per-cluster sums, counts and
// squared distances do. On private-aggregate rows the site groups whole cells (row_cells.h), not
// rows, so every cluster it reports is a union of cells, whatever centres the master sends.
#pragma once

#include "federated/site_functions.h"
#include "site-agent/functions.h"

namespace fedra {

// kmeansSeeds(X): up to params.groups local micro-clusters of this site's rows (k-means++
// seeding and a few Lloyd steps on a sample, then every row, or every cell, assigned), with
// clusters smaller than the context's minimum merged into their nearest neighbour. Output: one
// row per micro-cluster, its mean then its row count. The master seeds k-means++ from these
// instead of from raw rows.
Result<FunctionOutput> KMeansSeeds(std::span<const Matrix* const> inputs, const KMeansSeedsParams& params,
                                   const FunctionContext& context);

// kmeansStep(X, C): C stacks one k x d block of centres per restart. Each row of X
// (each cell, on private-aggregate rows: by its mean) is assigned to its nearest centre within
// each block. Output per centre: the sum of its rows, their count and the sum of their squared
// distances to it ((R k) x (d + 2)).
Result<FunctionOutput> KMeansStep(std::span<const Matrix* const> inputs, const KMeansStepParams& params,
                                  const FunctionContext& context);

}  // namespace fedra
