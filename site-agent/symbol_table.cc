#include "site-agent/symbol_table.h"

#include "common/float_conversion.h"

namespace fedra {
namespace {

uint64_t HeldBytes(const Variable& var) {
  return var.value ? MatrixBytes(*var.value) : static_cast<uint64_t>(var.floats->size()) * sizeof(float);
}

}  // namespace

Result<Variable> SymbolTable::Get(VarId id) const {
  FEDRA_ASSIGN_OR_RETURN(Variable var, GetAsHeld(id));
  if (!var.value) {
    // Made only where the budget has room for it, though not charged: it lives for one request.
    const uint64_t bytes = static_cast<uint64_t>(var.floats->size()) * sizeof(double);
    FEDRA_RETURN_IF_ERROR(CheckFits(bytes).WithContext("variable " + std::to_string(id) + " widened to doubles"));
    auto wide = std::make_shared<Matrix>(var.floats->rows(), var.floats->cols());
    WidenToDouble({var.floats->data(), static_cast<size_t>(var.floats->size())}, wide->data());
    var.value = std::move(wide);
    var.floats.reset();
  }
  return var;
}

Result<Variable> SymbolTable::GetAsHeld(VarId id) const {
  std::lock_guard lock(mu_);
  auto it = vars_.find(id);
  if (it == vars_.end()) return NotFound("unknown variable " + std::to_string(id));
  return it->second;
}

Status SymbolTable::CheckFitsLocked(uint64_t bytes) const {
  if (bytes > budget_bytes_ - std::min(used_bytes_, budget_bytes_)) {
    return ResourceExhausted("needs " + std::to_string(bytes) + " bytes but the site's memory budget has " +
                             std::to_string(budget_bytes_ - used_bytes_) + " of " + std::to_string(budget_bytes_) +
                             " bytes free");
  }
  return Status::Ok();
}

Status SymbolTable::CheckFits(uint64_t bytes) const {
  std::lock_guard lock(mu_);
  return CheckFitsLocked(bytes);
}

Status SymbolTable::Insert(VarId id, Variable var) {
  const uint64_t bytes = HeldBytes(var);
  std::lock_guard lock(mu_);
  if (vars_.contains(id)) return FailedPrecondition("variable " + std::to_string(id) + " already exists");
  FEDRA_RETURN_IF_ERROR(CheckFitsLocked(bytes));
  vars_.emplace(id, std::move(var));
  used_bytes_ += bytes;
  return Status::Ok();
}

Status SymbolTable::Erase(VarId id) {
  std::lock_guard lock(mu_);
  auto it = vars_.find(id);
  if (it == vars_.end()) return NotFound("unknown variable " + std::to_string(id));
  used_bytes_ -= HeldBytes(it->second);
  vars_.erase(it);
  return Status::Ok();
}

// At most this many kept datasets: each is a job's output, not a store.
constexpr size_t kMaxKeptDatasets = 64;

Status SymbolTable::CheckKeepLocked(const std::string& name, uint64_t bytes) const {
  const auto it = kept_.find(name);
  if (it == kept_.end() && kept_.size() >= kMaxKeptDatasets) {
    return ResourceExhausted("the site keeps at most " + std::to_string(kMaxKeptDatasets) +
                             " datasets from jobs; replace one by keeping under its name");
  }
  const uint64_t freed = it == kept_.end() ? 0 : MatrixBytes(*it->second.var.value);
  return CheckFitsLocked(bytes > freed ? bytes - freed : 0);
}

Status SymbolTable::CheckKeep(const std::string& name, uint64_t bytes) const {
  std::lock_guard lock(mu_);
  return CheckKeepLocked(name, bytes);
}

Status SymbolTable::Keep(const std::string& name, KeptDataset data) {
  const uint64_t bytes = MatrixBytes(*data.var.value);
  std::lock_guard lock(mu_);
  FEDRA_RETURN_IF_ERROR(CheckKeepLocked(name, bytes));
  auto it = kept_.find(name);
  if (it != kept_.end()) used_bytes_ -= MatrixBytes(*it->second.var.value);
  used_bytes_ += bytes;
  kept_[name] = std::move(data);
  return Status::Ok();
}

Result<KeptDataset> SymbolTable::FindKept(const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = kept_.find(name);
  if (it == kept_.end()) return NotFound("unknown dataset '" + name + "'");
  return it->second;
}

std::map<std::string, KeptDataset> SymbolTable::Kept() const {
  std::lock_guard lock(mu_);
  return kept_;
}

uint64_t SymbolTable::used_bytes() const {
  std::lock_guard lock(mu_);
  return used_bytes_;
}

size_t SymbolTable::size() const {
  std::lock_guard lock(mu_);
  return vars_.size();
}

}  // namespace fedra
