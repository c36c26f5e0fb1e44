// A federated matrix at the master: metadata only (shape, partitioning, and per part the site,
// variable id and range). Operations on it become federated instructions; what comes back is
// only what the sites' privacy policies release.
#pragma once

#include <string>
#include <vector>

#include "common/matrix.h"
#include "common/status.h"
#include "federated/federation_map.h"
#include "master/federation.h"

namespace fedra {

class FederatedMatrix {
 public:
  // Reads `columns` (all when empty) of `dataset` at every site of the federation into a
  // row-partitioned matrix, parts in the federation's site order. Sites holding no rows are left
  // out. All sites must agree on the columns; a failure anywhere clears what was read.
  static Result<FederatedMatrix> Read(Federation& fed, const std::string& dataset,
                                      const std::vector<std::string>& columns = {});

  // Sends each part (site, rows) to its site as a public broadcast value, stacked by rows in the
  // given order: for tests and benchmarks that start from data in memory.
  static Result<FederatedMatrix> Distribute(Federation& fed,
                                            std::vector<std::pair<std::string, Matrix>> parts,
                                            std::vector<std::string> column_names);

  const FederationMap& map() const { return map_; }
  const std::vector<std::string>& column_names() const { return column_names_; }
  int64_t rows() const { return map_.rows(); }
  int64_t cols() const { return map_.cols(); }

  // colSums(X): 1 x ncol. One batch per site.
  Result<Matrix> ColSums(Federation& fed) const;

  // t(X) %*% X: ncol x ncol. One batch per site.
  Result<Matrix> TransposeSelfProduct(Federation& fed) const;

  // One local operation to run on every part in a federated step (see Step).
  struct PartOp {
    std::string op;
    // The op's second input: the matching part of this row-aligned matrix...
    const FederatedMatrix* aligned = nullptr;
    // ...or the step's broadcast value.
    bool broadcast = false;
  };

  // One federated step: every op runs on every part, all in one batch per site (the broadcast
  // value, if any, is put first and cleared after). Returns each op's results summed over the
  // parts — the aggregate of a row-partitioned matrix.
  Result<std::vector<Matrix>> SumOverParts(Federation& fed, const std::vector<PartOp>& ops,
                                           const Matrix* broadcast = nullptr) const;

  // X[, indices] as a new federated matrix whose parts stay at the sites.
  Result<FederatedMatrix> SelectColumns(Federation& fed, const std::vector<int64_t>& indices) const;

  // Removes the parts' variables from the sites.
  Status Clear(Federation& fed) const;

 private:
  FederatedMatrix(FederationMap map, std::vector<std::string> column_names)
      : map_(std::move(map)), column_names_(std::move(column_names)) {}

  // Each op's result for each part: [op][part].
  Result<std::vector<std::vector<Matrix>>> RunOnParts(Federation& fed, const std::vector<PartOp>& ops,
                                                      const Matrix* broadcast) const;

  FederationMap map_;
  std::vector<std::string> column_names_;
};

}  // namespace fedra
