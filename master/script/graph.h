// The compiler's federated graph. Operations on federated matrices do not run when a statement is
// evaluated: they become nodes, and a local result that depends on the sites stays pending until
// something needs its value (a condition, a print, a federated step that needs it as input).
// Then every pending federated aggregate goes to the sites at once, with the row-level steps it
// needs, in one batch per site; results come back as local values. So all federated work that
// does not wait on a master-side value in between shares one round trip.
//
// Every node carries its lineage (operation and inputs' lineage): a step whose lineage was
// already computed, or is pending, in this run is reused, not sent again. Row-level results
// stay at the sites as long as a node refers to them; the last reference gone, they are cleared
// with the next batch (Finish clears the rest).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "federated/instruction.h"
#include "master/federation/federation.h"
#include "master/script/lexer.h"
#include "master/script/value.h"
#include "master/tensor/federated_matrix.h"

namespace fedra::script {

// One instruction on every part of a federated matrix: its inputs are the part, the matching
// part of `aligned` (partitioned alike), and a value the master sends along.
struct SiteStep {
  Instruction instruction;
  NodePtr x;
  NodePtr aligned;
  std::optional<Matrix> broadcast;  // 1x1, a row, a whole value; with slice_rows, each part's rows
  bool slice_rows = false;
};

class Node {
 public:
  enum class Kind {
    kFederated,   // rows at the sites: made (matrix) or to be made (step)
    kTransposed,  // t(X) of a federated X (`x`), for %*% to fuse
    kLocal,       // a value at the master: computed (value), an aggregate (step) or deferred (compute)
  };
  Kind kind = Kind::kLocal;
  SourcePos pos;
  std::string what;     // the operation, for messages: "t(X) %*% X", "colSums"
  std::string lineage;  // for reuse (a digest of the operation and its inputs'); empty: none
  int64_t rows = -1, cols = -1;
  int depth = 0;  // steps still to run below it, its own included (0: made or computed)

  // Federated: the layout (site and rows of each part), the variables once made.
  std::vector<FederatedPart> parts;
  std::optional<FederatedMatrix> matrix;
  std::vector<std::string> column_names;
  NodePtr x;  // kTransposed: the matrix transposed

  std::optional<SiteStep> step;                              // what makes it, until it is made or computed
  std::optional<Value> value;                                // kLocal, once computed
  Status error;                                              // kLocal: computing it failed
  std::function<Result<Value>(std::vector<Value>)> compute;  // kLocal deferred, over `inputs`
  std::vector<Value> inputs;

  bool federated() const { return kind != Kind::kLocal; }
  bool pending() const { return kind == Kind::kLocal && !value; }
};

// Whether a value is a federated matrix (or a transposed view of one), or pending.
bool IsFederated(const Value& v);
bool IsPending(const Value& v);
// "number", "boolean", "string", "matrix", "federated matrix".
std::string TypeName(const Value& v);

// Whether an error already names its script line.
bool HasLine(const Status& s);

// The lineage of a value the master sends along: its shape and content's digest.
std::string LineageOf(const Matrix& m);

class Graph {
 public:
  // `source` is the script, for messages.
  Graph(Federation& fed, std::string_view source) : fed_(fed), source_(source) {}

  Federation& federation() { return fed_; }

  // A federated matrix read or made elsewhere; it must be row-partitioned, with rows somewhere.
  Result<NodePtr> Leaf(FederatedMatrix matrix, std::string lineage, SourcePos pos);
  // The live node of this lineage, or null.
  NodePtr FindLive(const std::string& lineage) const;
  // A row-level step: its result, partitioned like step.x with `cols` columns, stays at the
  // sites. The same lineage alive already: that node.
  Result<Value> Map(SiteStep step, int64_t cols, std::vector<std::string> names, SourcePos pos, std::string what);
  // An aggregate: rows x cols at the master, summed over the parts (min or max for colMins and
  // colMaxs). Pending unless its lineage was computed in this run.
  Result<Value> Aggregate(SiteStep step, int64_t rows, int64_t cols, SourcePos pos, std::string what);
  // A local value computed from `inputs` once they are all known: `compute` right away when none
  // is pending.
  Result<Value> Defer(std::function<Result<Value>(std::vector<Value>)> compute, std::vector<Value> inputs,
                      SourcePos pos);
  // Chains of pending steps or values longer than this, or more pending aggregates, are run
  // first: a loop that never asks for a value must not build a graph without bound.
  static constexpr int kMaxChain = 64;
  static constexpr size_t kMaxPending = 1024;

  // The value itself, after running the batches it needs; a federated matrix is returned as is.
  Result<Value> Force(const Value& v);

  // Clears every variable this graph made that is no longer referred to (call after dropping
  // the script's values).
  Status Finish();

  // Batches sent (each one request batch per site involved), instructions sent, and
  // instructions served from lineage instead.
  int64_t batches() const { return batches_; }
  int64_t instructions() const { return instructions_; }
  int64_t reused() const { return reused_; }

  // "line L: message", then the line's source.
  Status AtLine(SourcePos pos, const Status& s) const;

 private:
  Result<bool> TryCompute(Node& n);
  // Runs every pending aggregate (and makes `also`), then computes what they unblocked.
  Status RunPending(const std::vector<NodePtr>& also = {});
  Status RunBatch(const std::vector<NodePtr>& aggregates, const std::vector<NodePtr>& also);
  // The live pending entries, the dead ones dropped.
  size_t LivePending();
  std::string StepLineage(const SiteStep& step) const;

  Federation& fed_;
  std::string_view source_;
  std::vector<std::weak_ptr<Node>> pending_;                   // aggregates and deferred values, in creation order
  std::unordered_map<std::string, std::weak_ptr<Node>> live_;  // by lineage
  std::unordered_map<std::string, Matrix> computed_;           // aggregates' values, by lineage
  size_t computed_bytes_ = 0;
  int64_t batches_ = 0, instructions_ = 0, reused_ = 0;
};

}  // namespace fedra::script
