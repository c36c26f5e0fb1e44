// A federated matrix at the master: metadata only (shape, partitioning, and per part the site,
// variable id and range). Operations on it become federated instructions; what comes back is
// only what the sites' privacy policies release.
//
// Copies share the site variables, which are released when the last copy (or transposed view)
// is gone: the federation clears them with its next batch to each site, at no extra round trip.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/matrix.h"
#include "common/status.h"
#include "federated/federation_map.h"
#include "federated/instruction.h"
#include "federated/transform.h"
#include "master/federation/federation.h"

namespace fedra {

// What the sites' catalogs say of a dataset's columns.
struct DatasetSchema {
  std::vector<std::string> columns;  // in the first site's order
  // Per column, over all sites: "numeric", "boolean" or "categorical" (text at any site), or
  // "empty" (every cell missing everywhere); and the missing cells, summed.
  std::map<std::string, std::string> types;
  std::map<std::string, uint64_t> missing;

  // The columns whose type is not numeric.
  std::vector<std::string> Categorical() const;
};

// The columns of `dataset` as the sites' catalogs list them. Sites may hold the columns in any
// order, since reads select them by name; a site that lacks the dataset or cannot read it, a
// repeated column name, or a site whose columns differ is an error that names, per site, the
// missing and the extra columns. One round trip (the catalogs).
Result<DatasetSchema> ReadSchema(Federation& fed, const std::string& dataset);

class FederatedMatrix {
 public:
  // Reads `columns` (all, as ReadSchema lists them, when empty) of `dataset` at every site of the
  // federation into a row-partitioned matrix, parts in the federation's site order. Each site
  // selects the columns by name, so only they are parsed, and in this order. With `transform`
  // (fitted, federated/transform.h, of exactly these columns) each site encodes them, and the
  // matrix has the transform's output columns. Sites holding no rows are left out. A failure
  // anywhere clears what was read.
  static Result<FederatedMatrix> Read(Federation& fed, const std::string& dataset,
                                      const std::vector<std::string>& columns = {},
                                      const Transform* transform = nullptr);

  // Sends each part to its site as a public broadcast value, stacked in the given order by rows
  // (kRow) or by columns (kColumn): for tests and benchmarks that start from data in memory.
  static Result<FederatedMatrix> Distribute(Federation& fed, std::vector<std::pair<std::string, Matrix>> parts,
                                            std::vector<std::string> column_names,
                                            Partitioning partitioning = Partitioning::kRow);

  // Takes ownership of site variables a caller made in a batch of its own (the script compiler
  // batches many steps): they are released when the last copy is gone, and their recipes (per
  // part; null: none) kept in the federation's book while they live.
  static FederatedMatrix Adopt(Federation& fed, FederationMap map, std::vector<std::string> column_names,
                               const std::vector<std::shared_ptr<const Recipe>>& recipes = {});

  // The map describes this matrix as seen (for a transposed view: the transpose's shape and
  // partitioning); the parts' variables hold their blocks as stored.
  const FederationMap& map() const { return map_; }
  // Names of the columns (empty for a transposed view).
  const std::vector<std::string>& column_names() const;
  int64_t rows() const { return map_.rows(); }
  int64_t cols() const { return map_.cols(); }

  // t(X): flips the shape and partitioning in metadata; no data moves. Each part's variable
  // then holds the transpose of the view's part, and operations pick site kernels to match.
  FederatedMatrix Transposed() const;
  bool transposed() const { return transposed_; }
  // Some site holds its part under secure-aggregate: aggregates over the parts come only as
  // secure sums (master/federation/secure_sum.h), and what is made from it inherits this.
  bool secure_sums() const { return secure_sums_; }

  // colSums(X): 1 x ncol. One batch per site.
  Result<Matrix> ColSums(Federation& fed) const;

  // t(X) %*% X: ncol x ncol. One batch per site.
  Result<Matrix> TransposeSelfProduct(Federation& fed) const;

  // One local operation or site function to run on every part's stored block in a federated step.
  struct PartOp {
    Instruction instruction;
    // Its second input: the matching part of this identically partitioned matrix...
    const FederatedMatrix* aligned = nullptr;
    // ...or the step's broadcast value (see RunOnParts).
    bool broadcast = false;
  };

  // One federated step: every op runs on every part, all in one batch per site, and each op's
  // result for each part comes back: [op][part]. `broadcast` holds nothing, one value for every
  // part, or one value per part; it is put before the ops and cleared after them.
  Result<std::vector<std::vector<Matrix>>> RunOnParts(Federation& fed, const std::vector<PartOp>& ops,
                                                      const std::vector<Matrix>& broadcast = {}) const;

  // RunOnParts, with each part's outcome separately: a part whose site failed or refused has
  // that error, and the others still have their results (for steps that can go on without a
  // site, like a training round). Only inputs that do not fit fail the whole step.
  Result<std::vector<std::vector<Result<Matrix>>>> RunOnEachPart(Federation& fed, const std::vector<PartOp>& ops,
                                                                 const std::vector<Matrix>& broadcast = {}) const;
  // The same with one broadcast value for every part: float parameters encoded once
  // (EncodeFloatValue), which travel as float32, half the bytes of doubles. With `kept`, the value
  // stays at each site that took it, in the variable `kept` names for the site, for the caller to
  // use and release, rather than being cleared after the ops.
  Result<std::vector<std::vector<Result<Matrix>>>> RunOnEachPart(Federation& fed, const std::vector<PartOp>& ops,
                                                                 const std::shared_ptr<const Bytes>& encoded,
                                                                 std::map<std::string, VarId>* kept = nullptr) const;

  // RunOnParts, with each op's results summed over the parts — the aggregate of a
  // row-partitioned matrix; a secure sum per op when secure_sums(), which fails when the parts
  // cover fewer rows than some site's minimum.
  Result<std::vector<Matrix>> SumOverParts(Federation& fed, const std::vector<PartOp>& ops,
                                           const Matrix* broadcast = nullptr) const;

  // One federated step whose results stay at the sites: `op` runs on every part (with the
  // inputs `input` describes, as in RunOnParts) into new variables, which form the returned
  // (untransposed) matrix, partitioned like this one with the same ranges. `extent` is the size
  // of the dimension that is not partitioned: the columns of a row partition, the rows of a
  // column partition. `names` name the result's columns.
  Result<FederatedMatrix> MapParts(Federation& fed, const PartOp& op, const std::vector<Matrix>& broadcast,
                                   int64_t extent, std::vector<std::string> names) const;

  // A seeded random split of the rows into a training part and a held-out part with about
  // `fraction` of the rows, made at the sites in one step (the same rows for the same seed).
  // Each must keep some rows.
  struct Split;
  Result<Split> SplitRows(Federation& fed, double fraction, uint64_t seed) const;

  // X[, indices] as a new federated matrix whose parts stay at the sites.
  Result<FederatedMatrix> SelectColumns(Federation& fed, const std::vector<int64_t>& indices) const;

 private:
  class SiteVariables;

  // Takes ownership of the map's variables, whose recipes (per part; null or missing: the part
  // cannot be made again) go into the federation's book while they live.
  FederatedMatrix(Federation& fed, FederationMap map, std::vector<std::string> column_names,
                  const std::vector<std::shared_ptr<const Recipe>>& recipes = {});
  // The recipe of part `index`'s output of MapParts, made by `run` (null when an input has none).
  std::shared_ptr<const Recipe> MapRecipe(const Federation& fed, const PartOp& op, const std::vector<Matrix>& broadcast,
                                          size_t index, VarId broadcast_var, const Request& run) const;
  Status RequireUntransposed(const std::string& what) const;

  // A step's broadcast values as puts: `count` of them (none, one for every part, or one per
  // part), `put` making the put of value i into a variable.
  struct BroadcastPuts {
    size_t count = 0;
    std::function<Request(VarId var, size_t i)> put;
  };
  // The puts of `broadcast`, which they borrow: use them while it lives.
  static BroadcastPuts PutsOf(const std::vector<Matrix>& broadcast);
  // RunOnEachPart, with the broadcast values as puts.
  Result<std::vector<std::vector<Result<Matrix>>>> RunWithPuts(Federation& fed, const std::vector<PartOp>& ops,
                                                               const BroadcastPuts& broadcast,
                                                               std::map<std::string, VarId>* kept = nullptr) const;

  // Checks that `op`'s inputs fit this matrix's parts.
  Status CheckInputs(const PartOp& op, size_t broadcast_values) const;
  // Puts the broadcast values into `requests`, returning each part's variable (0: none).
  std::vector<VarId> PutBroadcast(Federation& fed, const BroadcastPuts& broadcast, SiteRequests* requests) const;
  static std::vector<VarId> Inputs(const PartOp& op, const FederatedPart& part, size_t index, VarId broadcast_var);

  // SumOverParts for secure_sums(): each op's results stay at the sites and are summed securely.
  Result<std::vector<Matrix>> SecureSumOverParts(Federation& fed, const std::vector<PartOp>& ops,
                                                 const std::vector<Matrix>& broadcast) const;

  FederationMap map_;
  std::vector<std::string> column_names_;  // of the untransposed matrix
  bool transposed_ = false;
  bool secure_sums_ = false;
  std::shared_ptr<const SiteVariables> variables_;
};

struct FederatedMatrix::Split {
  FederatedMatrix train;
  FederatedMatrix held_out;
};

}  // namespace fedra
