// The site's variables, and the datasets it keeps from jobs: immutable matrices with their privacy provenance,
// accounted against the site's memory budget. Values are shared read-only, so operations run without holding the lock.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/matrix.h"
#include "common/status.h"
#include "federated/privacy.h"
#include "federated/protocol.h"
#include "site-agent/support.h"

namespace fedra {

struct Variable {
  std::shared_ptr<const Matrix> value;  // null when the value is held as `floats`
  Provenance provenance;
  // For private-aggregate rows: how each column's values spread, for the support of what they sum
  // into (support.h).
  std::shared_ptr<const std::vector<ColumnSpread>> spread;
  // A float32 value the master put (a model's parameters), held as it came: half the memory, and
  // the functions that read floats take it as it lies (FloatInputs in functions.h).
  std::shared_ptr<const Eigen::MatrixXf> floats;

  Eigen::Index rows() const { return value ? value->rows() : floats->rows(); }
};

// A row-level value kept under a name for later jobs (a saved model's predictions): read back
// like a dataset of the catalog, with the provenance it was made with.
struct KeptDataset {
  Variable var;
  std::vector<std::string> columns;
};

class SymbolTable {
 public:
  explicit SymbolTable(uint64_t budget_bytes) : budget_bytes_(budget_bytes) {}

  // kNotFound naming the id when absent. A value held as floats comes widened into `value`, a
  // copy each call, made only when the budget has room for it (else kResourceExhausted).
  Result<Variable> Get(VarId id) const;
  // The variable as held: a float32 value in `floats` alone.
  Result<Variable> GetAsHeld(VarId id) const;

  // Ok when `bytes` more would fit in the budget now; kResourceExhausted saying how much is used.
  Status CheckFits(uint64_t bytes) const;

  // Adds a variable; fails if the id is taken or the value does not fit. Nothing changes on failure.
  Status Insert(VarId id, Variable var);

  // Removes a variable; kNotFound when absent.
  Status Erase(VarId id);

  // Keeps `data` as `name`, in place of any kept dataset of that name, within the budget.
  Status Keep(const std::string& name, KeptDataset data);
  // Ok when Keep of `bytes` as `name` would succeed now.
  Status CheckKeep(const std::string& name, uint64_t bytes) const;
  // kNotFound when no dataset of that name is kept.
  Result<KeptDataset> FindKept(const std::string& name) const;
  // Every kept dataset, by name.
  std::map<std::string, KeptDataset> Kept() const;

  uint64_t used_bytes() const;
  size_t size() const;

 private:
  Status CheckFitsLocked(uint64_t bytes) const;
  Status CheckKeepLocked(const std::string& name, uint64_t bytes) const;

  const uint64_t budget_bytes_;
  mutable std::mutex mu_;
  std::map<VarId, Variable> vars_;           // guarded by mu_
  std::map<std::string, KeptDataset> kept_;  // guarded by mu_
  uint64_t used_bytes_ = 0;                  // guarded by mu_
};

}  // namespace fedra
