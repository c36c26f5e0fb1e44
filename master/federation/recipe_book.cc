#include "master/federation/recipe_book.h"

#include <set>

namespace fedra {
namespace {

using Rename = std::function<VarId(VarId)>;

Request Renamed(Request q, const Rename& rename) {
  if (q.output != 0) q.output = rename(q.output);
  for (VarId& v : q.inputs) v = rename(v);
  return q;
}

// Appends the steps that make `r` to `plan`, after those of its inputs not made already.
void Emit(const Recipe& r, const Rename& rename, std::set<VarId>* made, RecipePlan* plan) {
  if (!made->insert(r.var).second) return;
  for (const std::shared_ptr<const Recipe>& input : r.inputs) Emit(*input, rename, made, plan);
  const size_t first = plan->requests.size();
  for (const Request& q : r.steps) plan->requests.push_back(Renamed(q, rename));
  if (r.rows >= 0) plan->row_checks.push_back({first + r.rows_step, r.rows, r.what});
}

}  // namespace

Status RecipePlan::Check(const std::string& site, const std::vector<Response>& answers) const {
  if (answers.size() != requests.size()) {
    return DataLoss("site '" + site + "' answered " + std::to_string(answers.size()) + " of " +
                    std::to_string(requests.size()) + " requests");
  }
  for (const Response& a : answers) {
    if (!a.status.ok()) return a.status.WithContext("site '" + site + "'");
  }
  for (const RowCheck& c : row_checks) {
    const int64_t rows = answers[c.response].meta.value("rows", int64_t{-1});
    if (rows != c.rows) {
      return FailedPrecondition("site '" + site + "': " + c.what + " now makes " + std::to_string(rows) +
                                " rows where it made " + std::to_string(c.rows) +
                                ": the site's data changed while the job ran; run the job again");
    }
  }
  return Status::Ok();
}

void RecipeBook::Add(const std::string& site, std::shared_ptr<const Recipe> recipe) {
  std::lock_guard lock(mu_);
  live_[site][recipe->var] = std::move(recipe);
}

void RecipeBook::Remove(const std::string& site, VarId var) {
  std::lock_guard lock(mu_);
  auto it = live_.find(site);
  if (it == live_.end()) return;
  it->second.erase(var);
  if (it->second.empty()) live_.erase(it);
}

std::shared_ptr<const Recipe> RecipeBook::Find(const std::string& site, VarId var) const {
  std::lock_guard lock(mu_);
  auto it = live_.find(site);
  if (it == live_.end()) return nullptr;
  auto found = it->second.find(var);
  return found == it->second.end() ? nullptr : found->second;
}

bool RecipeBook::Holds(const std::string& site, VarId var) const { return Find(site, var) != nullptr; }

RecipePlan RecipeBook::Restore(const std::string& site) const {
  std::map<VarId, std::shared_ptr<const Recipe>> live;
  {
    std::lock_guard lock(mu_);
    if (auto it = live_.find(site); it != live_.end()) live = it->second;
  }
  RecipePlan plan;
  std::set<VarId> made;
  const Rename same = [](VarId v) { return v; };
  // Ids grow with time, so the map's order is the order the variables were made in.
  for (const auto& [var, recipe] : live) {
    Emit(*recipe, same, &made, &plan);
    ++plan.variables;
  }
  std::vector<VarId> temporaries;
  for (VarId v : made) {
    if (!live.contains(v)) temporaries.push_back(v);
  }
  if (!temporaries.empty()) plan.requests.push_back(Request::Release(std::move(temporaries)));
  return plan;
}

Recipe Rebuild(const Recipe& recipe, VarId var, const std::function<VarId()>& new_id) {
  std::map<VarId, VarId> names = {{recipe.var, var}};
  const Rename rename = [&](VarId v) {
    auto [it, fresh] = names.try_emplace(v, 0);
    if (fresh) it->second = new_id();
    return it->second;
  };
  RecipePlan plan;
  std::set<VarId> made;
  Emit(recipe, rename, &made, &plan);
  std::vector<VarId> temporaries;
  for (const auto& [old, renamed] : names) {
    if (renamed != var) temporaries.push_back(renamed);
  }
  Recipe out;
  out.var = var;
  out.what = recipe.what;
  out.steps = std::move(plan.requests);
  if (!temporaries.empty()) out.steps.push_back(Request::Release(std::move(temporaries)));
  if (!plan.row_checks.empty()) {
    out.rows = plan.row_checks.back().rows;
    out.rows_step = plan.row_checks.back().response;
  }
  return out;
}

}  // namespace fedra
