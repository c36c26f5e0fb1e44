#include "master/tensor/federated_matrix.h"

#include <algorithm>
#include <string_view>
#include <unordered_set>

#include "common/logging.h"
#include "master/federation/secure_sum.h"

namespace fedra {

// Owns the parts' variables: their recipes are in the federation's book while they live, and
// the last matrix referring to them hands them to the federation's release queue. Both outlive
// the federation if need be.
class FederatedMatrix::SiteVariables {
 public:
  SiteVariables(const Federation& fed, const FederationMap& map,
                const std::vector<std::shared_ptr<const Recipe>>& recipes)
      : queue_(fed.release_queue()), book_(fed.recipes()) {
    for (size_t i = 0; i < map.parts().size(); ++i) {
      const FederatedPart& p = map.parts()[i];
      vars_.emplace_back(p.site, p.var);
      if (i < recipes.size() && recipes[i]) book_->Add(p.site, recipes[i]);
    }
  }
  ~SiteVariables() {
    for (const auto& [site, var] : vars_) {
      book_->Remove(site, var);
      queue_->Add(site, var);
    }
  }
  SiteVariables(const SiteVariables&) = delete;
  SiteVariables& operator=(const SiteVariables&) = delete;

 private:
  std::shared_ptr<ReleaseQueue> queue_;
  std::shared_ptr<RecipeBook> book_;
  std::vector<std::pair<std::string, VarId>> vars_;
};

FederatedMatrix::FederatedMatrix(Federation& fed, FederationMap map, std::vector<std::string> column_names,
                                 const std::vector<std::shared_ptr<const Recipe>>& recipes)
    : map_(std::move(map)),
      column_names_(std::move(column_names)),
      variables_(std::make_shared<const SiteVariables>(fed, map_, recipes)) {}

FederatedMatrix FederatedMatrix::Adopt(Federation& fed, FederationMap map, std::vector<std::string> column_names,
                                       const std::vector<std::shared_ptr<const Recipe>>& recipes) {
  return FederatedMatrix(fed, std::move(map), std::move(column_names), recipes);
}

FederatedMatrix FederatedMatrix::Transposed() const {
  FederatedMatrix t = *this;
  t.map_ = map_.Transposed();
  t.transposed_ = !transposed_;
  return t;
}

const std::vector<std::string>& FederatedMatrix::column_names() const {
  static const std::vector<std::string> kNone;  // rows have no names
  return transposed_ ? kNone : column_names_;
}

Status FederatedMatrix::RequireUntransposed(const std::string& what) const {
  if (!transposed_) return Status::Ok();
  return FailedPrecondition(what + " is not defined on a transposed view; use the matrix it was transposed from");
}

namespace {

// The names in `a` that are not in `b`, quoted: "'x', 'y'".
std::string Missing(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  const std::unordered_set<std::string_view> in_b(b.begin(), b.end());
  std::string out;
  for (const std::string& name : a) {
    if (!in_b.contains(name)) out += (out.empty() ? "'" : ", '") + name + "'";
  }
  return out;
}

// `site`'s listing of `dataset` from its catalog, with distinct column names.
Result<nlohmann::json> Listing(const std::string& site, const nlohmann::json& catalog, const std::string& dataset) {
  std::string known;
  for (const nlohmann::json& d : catalog) {
    const std::string name = d.value("name", "");
    if (name != dataset) {
      known += (known.empty() ? "" : ", ") + name;
      continue;
    }
    if (d.contains("error")) return FailedPrecondition("site '" + site + "': " + d.value("error", ""));
    const auto columns = d.value("columns", std::vector<std::string>{});
    std::unordered_set<std::string_view> seen;
    for (size_t j = 0; j < columns.size(); ++j) {
      if (!seen.insert(columns[j]).second) {
        return FailedPrecondition("site '" + site + "': dataset '" + dataset + "' has two columns named '" +
                                  columns[j] + "'; columns are matched by name, so names must differ");
      }
    }
    return d;
  }
  return NotFound("site '" + site + "': unknown dataset '" + dataset +
                  "' (this site has: " + (known.empty() ? "none" : known) + ")");
}

// The type of a column that sites list as `a` and `b`.
std::string MergedType(const std::string& a, const std::string& b) {
  if (a == b || b == "empty") return a;
  if (a == "empty") return b;
  return "categorical";
}

}  // namespace

std::vector<std::string> DatasetSchema::Categorical() const {
  std::vector<std::string> out;
  for (const std::string& c : columns) {
    const auto it = types.find(c);
    if (it != types.end() && it->second != "numeric" && it->second != "empty") out.push_back(c);
  }
  return out;
}

Result<DatasetSchema> ReadSchema(Federation& fed, const std::string& dataset) {
  SiteResponses responses = fed.CallAll({Request::ListCatalog()});
  FEDRA_RETURN_IF_ERROR(FirstError(responses));
  DatasetSchema schema;
  std::string first_site, differences;
  for (const std::string& site : fed.site_names()) {
    const nlohmann::json catalog = responses.at(site)->front().meta.value("datasets", nlohmann::json::array());
    FEDRA_ASSIGN_OR_RETURN(const nlohmann::json listing, Listing(site, catalog, dataset));
    const auto columns = listing.value("columns", std::vector<std::string>{});
    // IDX datasets list no types: their values are numbers.
    const auto types = listing.value("types", std::vector<std::string>(columns.size(), "numeric"));
    const auto missing = listing.value("missing", std::vector<uint64_t>(columns.size(), 0));
    for (size_t j = 0; j < columns.size() && j < types.size() && j < missing.size(); ++j) {
      const auto known = schema.types.find(columns[j]);
      schema.types[columns[j]] = known == schema.types.end() ? types[j] : MergedType(known->second, types[j]);
      schema.missing[columns[j]] += missing[j];
    }
    if (first_site.empty()) {
      schema.columns = columns;
      first_site = site;
      continue;
    }
    const std::string lacks = Missing(schema.columns, columns), extra = Missing(columns, schema.columns);
    if (lacks.empty() && extra.empty()) continue;
    differences += "; site '" + site + "'";
    if (!lacks.empty()) differences += " lacks " + lacks;
    if (!extra.empty()) differences += std::string(lacks.empty() ? "" : " and") + " has " + extra + " besides";
  }
  if (!differences.empty()) {
    return FailedPrecondition("dataset '" + dataset + "': the sites hold different columns (matched by name, in any " +
                              "order), against site '" + first_site + "'" + differences);
  }
  return schema;
}

Result<FederatedMatrix> FederatedMatrix::Read(Federation& fed, const std::string& dataset,
                                              const std::vector<std::string>& wanted, const Transform* transform) {
  std::vector<std::string> columns = wanted;
  if (columns.empty()) {
    Result<DatasetSchema> schema = ReadSchema(fed, dataset);
    if (!schema.ok()) return schema.status().WithContext("read '" + dataset + "'");
    columns = std::move(schema->columns);
  }
  const nlohmann::json encoding = transform ? transform->ToJson() : nlohmann::json();
  SiteRequests requests;
  std::map<std::string, VarId> vars;
  for (const std::string& site : fed.site_names()) {
    vars[site] = fed.NewVarId();
    requests[site] = {transform ? Request::ReadEncoded(vars[site], dataset, columns, encoding)
                                : Request::Read(vars[site], dataset, columns)};
  }
  SiteResponses responses = fed.Call(requests);

  auto fail = [&](Status s) -> Result<FederatedMatrix> {
    // Leave nothing behind at the sites that did read.
    for (const auto& [site, var] : vars) fed.Release(site, var);
    return s.WithContext("read '" + dataset + "'");
  };
  if (Status s = FirstError(responses); !s.ok()) return fail(s);

  std::vector<FederatedPart> parts;
  std::vector<std::shared_ptr<const Recipe>> recipes;
  std::vector<std::string> names;
  int64_t rows = 0, cols = -1;
  std::string first_site;
  for (const std::string& site : fed.site_names()) {
    const nlohmann::json& meta = responses.at(site)->front().meta;
    const int64_t r = meta.value("rows", int64_t{0});
    const int64_t c = meta.value("cols", int64_t{0});
    const auto site_names = meta.value("columns", std::vector<std::string>{});
    if (cols < 0) {
      cols = c;
      names = site_names;
      first_site = site;
    } else if (c != cols || site_names != names) {
      return fail(InvalidArgument("site '" + site + "' has " + std::to_string(c) + " columns that differ from site '" +
                                  first_site + "' (" + std::to_string(cols) + " columns)"));
    }
    if (r == 0) {
      fed.Release(site, vars[site]);
      continue;
    }
    parts.push_back(FederatedPart{site, vars[site], IndexRange{rows, rows + r}});
    recipes.push_back(std::make_shared<const Recipe>(
        Recipe{vars[site], {requests.at(site).front()}, {}, r, 0, "read '" + dataset + "'"}));
    rows += r;
  }
  Result<FederationMap> map = FederationMap::Make(rows, cols, Partitioning::kRow, std::move(parts));
  if (!map.ok()) return fail(map.status());
  FederatedMatrix out(fed, std::move(*map), std::move(names), recipes);
  for (const std::string& site : fed.site_names()) {
    out.secure_sums_ |= responses.at(site)->front().meta.value("privacy", "") == "secure-aggregate";
  }
  return out;
}

Result<FederatedMatrix> FederatedMatrix::Distribute(Federation& fed, std::vector<std::pair<std::string, Matrix>> parts,
                                                    std::vector<std::string> column_names, Partitioning partitioning) {
  if (parts.empty()) return InvalidArgument("distribute: no parts");
  const bool by_row = partitioning == Partitioning::kRow;
  const Eigen::Index first_rows = parts[0].second.rows();  // parts are moved out below
  SiteRequests requests;
  std::vector<FederatedPart> meta;
  int64_t extent = 0;
  for (auto& [site, value] : parts) {
    const Eigen::Index fixed = by_row ? value.cols() : value.rows();
    const Eigen::Index expected = by_row ? static_cast<Eigen::Index>(column_names.size()) : first_rows;
    if (fixed != expected) {
      return InvalidArgument("part for site '" + site + "' is " + std::to_string(value.rows()) + "x" +
                             std::to_string(value.cols()) + ", which does not stack with the others");
    }
    const int64_t size = by_row ? value.rows() : value.cols();
    meta.push_back(FederatedPart{site, fed.NewVarId(), {extent, extent + size}});
    extent += size;
    requests[site].push_back(Request::Put(meta.back().var, std::move(value)));
  }
  const int64_t rows = by_row ? extent : first_rows;
  const int64_t cols = by_row ? static_cast<int64_t>(column_names.size()) : extent;
  if (static_cast<int64_t>(column_names.size()) != cols) {
    return InvalidArgument("distribute: " + std::to_string(column_names.size()) + " column names for " +
                           std::to_string(cols) + " columns");
  }
  if (Status s = FirstError(fed.Call(std::move(requests))); !s.ok()) {
    for (const FederatedPart& p : meta) fed.Release(p.site, p.var);
    return s.WithContext("distribute");
  }
  FEDRA_ASSIGN_OR_RETURN(FederationMap map, FederationMap::Make(rows, cols, partitioning, std::move(meta)));
  return FederatedMatrix(fed, std::move(map), std::move(column_names));
}

Status FederatedMatrix::CheckInputs(const PartOp& op, size_t broadcast_values) const {
  const auto& parts = map_.parts();
  if (op.aligned) {
    const auto& other = op.aligned->map().parts();
    bool alike = other.size() == parts.size() && op.aligned->map().partitioning() == map_.partitioning() &&
                 op.aligned->transposed() == transposed_;
    for (size_t i = 0; alike && i < parts.size(); ++i) {
      alike = other[i].site == parts[i].site && other[i].range.begin == parts[i].range.begin &&
              other[i].range.end == parts[i].range.end;
    }
    if (!alike)
      return InvalidArgument(std::string(op.instruction.name()) + ": the two matrices are not partitioned alike");
  }
  if (op.broadcast && broadcast_values == 0)
    return InvalidArgument(std::string(op.instruction.name()) + ": no broadcast value given");
  if (broadcast_values > 1 && broadcast_values != parts.size()) {
    return InvalidArgument(std::string(op.instruction.name()) + ": " + std::to_string(broadcast_values) +
                           " broadcast values for " + std::to_string(parts.size()) + " parts");
  }
  return Status::Ok();
}

FederatedMatrix::BroadcastPuts FederatedMatrix::PutsOf(const std::vector<Matrix>& broadcast) {
  return {broadcast.size(), [&broadcast](VarId var, size_t i) { return Request::Put(var, broadcast[i]); }};
}

std::vector<VarId> FederatedMatrix::PutBroadcast(Federation& fed, const BroadcastPuts& broadcast,
                                                 SiteRequests* requests) const {
  const auto& parts = map_.parts();
  std::vector<VarId> vars(parts.size(), 0);
  std::map<std::string, VarId> shared;  // one copy per site when every part gets the same value
  for (size_t i = 0; i < parts.size() && broadcast.count > 0; ++i) {
    const std::string& site = parts[i].site;
    if (broadcast.count == 1 && shared.contains(site)) {
      vars[i] = shared[site];
      continue;
    }
    vars[i] = fed.NewVarId();
    shared[site] = vars[i];
    (*requests)[site].push_back(broadcast.put(vars[i], broadcast.count == 1 ? 0 : i));
  }
  return vars;
}

std::vector<VarId> FederatedMatrix::Inputs(const PartOp& op, const FederatedPart& part, size_t index,
                                           VarId broadcast_var) {
  std::vector<VarId> inputs = {part.var};
  if (op.aligned) inputs.push_back(op.aligned->map().parts()[index].var);
  if (op.broadcast) inputs.push_back(broadcast_var);
  return inputs;
}

Result<std::vector<std::vector<Matrix>>> FederatedMatrix::RunOnParts(Federation& fed, const std::vector<PartOp>& ops,
                                                                     const std::vector<Matrix>& broadcast) const {
  FEDRA_ASSIGN_OR_RETURN(auto each, RunOnEachPart(fed, ops, broadcast));
  std::vector<std::vector<Matrix>> results(ops.size());
  for (size_t k = 0; k < ops.size(); ++k) {
    for (Result<Matrix>& r : each[k]) {
      if (!r.ok()) return r.status().WithContext(ops.size() == 1 ? ops[0].instruction.name() : "step");
      results[k].push_back(std::move(r).value());
    }
  }
  return results;
}

Result<std::vector<std::vector<Result<Matrix>>>> FederatedMatrix::RunOnEachPart(
    Federation& fed, const std::vector<PartOp>& ops, const std::vector<Matrix>& broadcast) const {
  return RunWithPuts(fed, ops, PutsOf(broadcast));
}

Result<std::vector<std::vector<Result<Matrix>>>> FederatedMatrix::RunOnEachPart(
    Federation& fed, const std::vector<PartOp>& ops, const std::shared_ptr<const Bytes>& encoded,
    std::map<std::string, VarId>* kept) const {
  if (!encoded) return InvalidArgument("no encoded broadcast value given");
  return RunWithPuts(fed, ops, {1, [encoded](VarId var, size_t) { return Request::PutEncoded(var, encoded); }}, kept);
}

Result<std::vector<std::vector<Result<Matrix>>>> FederatedMatrix::RunWithPuts(
    Federation& fed, const std::vector<PartOp>& ops, const BroadcastPuts& broadcast,
    std::map<std::string, VarId>* kept) const {
  for (const PartOp& op : ops) FEDRA_RETURN_IF_ERROR(CheckInputs(op, broadcast.count));
  if (kept && broadcast.count != 1) return InvalidArgument("only one broadcast value can be kept at the sites");
  const auto& parts = map_.parts();
  SiteRequests requests;
  const std::vector<VarId> bvars = PutBroadcast(fed, broadcast, &requests);
  std::map<std::string, size_t> next;  // per site, the next response to take: skip the puts
  for (const auto& [site, reqs] : requests) next[site] = reqs.size();
  for (size_t i = 0; i < parts.size(); ++i) {
    for (const PartOp& op : ops) {
      requests[parts[i].site].push_back(
          Request::Run(/*output=*/0, op.instruction, Inputs(op, parts[i], i, bvars[i]), /*return_value=*/true));
    }
  }
  std::map<std::string, std::vector<VarId>> to_clear;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (bvars[i] != 0) to_clear[parts[i].site].push_back(bvars[i]);
  }
  for (auto& [site, vars] : to_clear) {
    std::sort(vars.begin(), vars.end());
    vars.erase(std::unique(vars.begin(), vars.end()), vars.end());
    if (!kept) requests[site].push_back(Request::Clear(vars));
  }

  SiteResponses responses = fed.Call(std::move(requests));
  // A site that could not be reached, or could not take the broadcast, fails all its parts.
  std::map<std::string, Status> site_failed;
  for (auto& [site, result] : responses) {
    if (!result.ok()) {
      site_failed[site] = result.status();
      continue;
    }
    for (size_t i = 0; i < next[site] && i < result->size(); ++i) {
      if (!(*result)[i].status.ok()) site_failed[site] = (*result)[i].status.WithContext("site '" + site + "'");
    }
  }
  if (kept) {
    // One variable a site (the broadcast is one value): kept where the site took it, released
    // (in case it did) where it failed.
    for (const auto& [site, vars] : to_clear) {
      if (site_failed.contains(site)) {
        fed.Release(site, vars.front());
      } else {
        (*kept)[site] = vars.front();
      }
    }
  }
  std::vector<std::vector<Result<Matrix>>> results(ops.size());
  for (const FederatedPart& p : parts) {
    for (size_t k = 0; k < ops.size(); ++k) {
      if (auto failed = site_failed.find(p.site); failed != site_failed.end()) {
        results[k].push_back(failed->second);
        continue;
      }
      Response& r = (*responses.at(p.site))[next[p.site]++];
      if (!r.status.ok()) {
        results[k].push_back(r.status.WithContext("site '" + p.site + "'"));
      } else if (!r.value) {
        results[k].push_back(
            DataLoss(std::string(ops[k].instruction.name()) + ": site '" + p.site + "' returned no value"));
      } else {
        results[k].push_back(std::move(*r.value));
      }
    }
  }
  return results;
}

Result<std::vector<Matrix>> FederatedMatrix::SumOverParts(Federation& fed, const std::vector<PartOp>& ops,
                                                          const Matrix* broadcast) const {
  if (map_.partitioning() != Partitioning::kRow) {
    return FailedPrecondition("sums over parts need a row-partitioned matrix");
  }
  FEDRA_RETURN_IF_ERROR(RequireUntransposed("a sum over parts"));
  std::vector<Matrix> values;
  if (broadcast) values.push_back(*broadcast);
  if (secure_sums_) return SecureSumOverParts(fed, ops, values);
  FEDRA_ASSIGN_OR_RETURN(auto per_part, RunOnParts(fed, ops, values));
  std::vector<Matrix> sums;
  for (auto& results : per_part) {
    Matrix total = std::move(results[0]);
    for (size_t i = 1; i < results.size(); ++i) {
      if (results[i].rows() != total.rows() || results[i].cols() != total.cols()) {
        return DataLoss("parts returned results of different shapes");
      }
      total += results[i];
    }
    sums.push_back(std::move(total));
  }
  return sums;
}

Result<FederatedMatrix> FederatedMatrix::MapParts(Federation& fed, const PartOp& op,
                                                  const std::vector<Matrix>& broadcast, int64_t extent,
                                                  std::vector<std::string> names) const {
  FEDRA_RETURN_IF_ERROR(CheckInputs(op, broadcast.size()));
  const auto& parts = map_.parts();
  SiteRequests requests;
  const std::vector<VarId> bvars = PutBroadcast(fed, PutsOf(broadcast), &requests);
  std::vector<FederatedPart> out;
  std::vector<std::shared_ptr<const Recipe>> recipes;
  for (size_t i = 0; i < parts.size(); ++i) {
    out.push_back(FederatedPart{parts[i].site, fed.NewVarId(), parts[i].range});
    requests[parts[i].site].push_back(Request::Run(out.back().var, op.instruction, Inputs(op, parts[i], i, bvars[i])));
    recipes.push_back(MapRecipe(fed, op, broadcast, i, bvars[i], requests[parts[i].site].back()));
  }
  for (size_t i = 0; i < parts.size(); ++i) {
    if (bvars[i] != 0) requests[parts[i].site].push_back(Request::Clear({bvars[i]}));
  }
  SiteResponses responses = fed.Call(std::move(requests));
  if (Status s = FirstError(responses); !s.ok()) {
    // Leave nothing half-made: release the outputs that some sites did create.
    for (const FederatedPart& p : out) fed.Release(p.site, p.var);
    return s.WithContext(op.instruction.name());
  }
  const bool by_row = map_.partitioning() == Partitioning::kRow;
  FEDRA_ASSIGN_OR_RETURN(FederationMap map, FederationMap::Make(by_row ? rows() : extent, by_row ? extent : cols(),
                                                                map_.partitioning(), std::move(out)));
  FederatedMatrix result(fed, std::move(map), std::move(names), recipes);
  result.secure_sums_ = secure_sums_ || (op.aligned && op.aligned->secure_sums_);
  return result;
}

Result<std::vector<Matrix>> FederatedMatrix::SecureSumOverParts(Federation& fed, const std::vector<PartOp>& ops,
                                                                const std::vector<Matrix>& broadcast) const {
  for (const PartOp& op : ops) FEDRA_RETURN_IF_ERROR(CheckInputs(op, broadcast.size()));
  const auto& parts = map_.parts();
  SiteRequests requests;
  const std::vector<VarId> bvars = PutBroadcast(fed, PutsOf(broadcast), &requests);
  std::vector<std::map<std::string, VarId>> results(ops.size());
  for (size_t i = 0; i < parts.size(); ++i) {
    for (size_t k = 0; k < ops.size(); ++k) {
      const VarId out = fed.NewVarId();
      results[k][parts[i].site] = out;
      requests[parts[i].site].push_back(Request::Run(out, ops[k].instruction, Inputs(ops[k], parts[i], i, bvars[i])));
    }
    if (bvars[i] != 0) requests[parts[i].site].push_back(Request::Clear({bvars[i]}));
  }
  const auto release = [&] {
    for (const auto& vars : results) {
      for (const auto& [site, var] : vars) fed.Release(site, var);
    }
  };
  if (Status s = FirstError(fed.Call(std::move(requests))); !s.ok()) {
    release();
    return s;
  }
  std::vector<Matrix> sums;
  for (size_t k = 0; k < ops.size(); ++k) {
    // 24 fraction bits: aggregates of data (Gram matrices) up to 2^38 / sites, exact to 2^-25 per site.
    SecureSumOptions options;
    options.fraction_bits = 24;
    Result<SecureSumResult> sum = SecureSum(fed, results[k], options);
    if (!sum.ok()) {
      release();
      return sum.status().WithContext(std::string(ops[k].instruction.name()) + " (secure sum)");
    }
    if (sum->summed.size() != parts.size()) {
      release();
      return Unavailable(std::string(ops[k].instruction.name()) +
                         " (secure sum): " + std::to_string(parts.size() - sum->summed.size()) +
                         " site(s) dropped out, and an aggregate of this matrix needs every part");
    }
    if (static_cast<uint64_t>(rows()) < sum->min_rows) {
      release();
      return PermissionDenied(std::string(ops[k].instruction.name()) + " (secure sum): the sum covers " +
                              std::to_string(rows()) + " rows, fewer than a site's minimum of " +
                              std::to_string(sum->min_rows));
    }
    sums.push_back(std::move(sum->sum));
  }
  release();
  return sums;
}

std::shared_ptr<const Recipe> FederatedMatrix::MapRecipe(const Federation& fed, const PartOp& op,
                                                         const std::vector<Matrix>& broadcast, size_t index,
                                                         VarId broadcast_var, const Request& run) const {
  const FederatedPart& part = map_.parts()[index];
  auto recipe = std::make_shared<Recipe>();
  recipe->var = run.output;
  recipe->what = op.instruction.name();
  // Made from this part and the aligned one, which must have recipes themselves.
  for (VarId in : {part.var, op.aligned ? op.aligned->map().parts()[index].var : VarId{0}}) {
    if (in == 0) continue;
    std::shared_ptr<const Recipe> input = fed.recipes()->Find(part.site, in);
    if (!input) return nullptr;
    recipe->inputs.push_back(std::move(input));
  }
  if (broadcast_var != 0) {
    recipe->steps.push_back(Request::Put(broadcast_var, broadcast.size() == 1 ? broadcast[0] : broadcast[index]));
  }
  recipe->steps.push_back(run);
  if (broadcast_var != 0) recipe->steps.push_back(Request::Clear({broadcast_var}));
  return recipe;
}

Result<Matrix> FederatedMatrix::ColSums(Federation& fed) const {
  // The column sums of a transposed view are the row sums of the stored blocks.
  FEDRA_ASSIGN_OR_RETURN(auto per_part, RunOnParts(fed, {PartOp{transposed_ ? Op::kRowSums : Op::kColSums}}));
  Matrix out = Matrix::Zero(1, cols());
  for (size_t i = 0; i < per_part[0].size(); ++i) {
    const IndexRange& range = map_.parts()[i].range;
    const Matrix part = transposed_ ? Matrix(per_part[0][i].transpose()) : std::move(per_part[0][i]);
    if (map_.partitioning() == Partitioning::kRow) {
      out += part;
    } else {
      out.middleCols(range.begin, range.size()) = part;
    }
  }
  return out;
}

Result<Matrix> FederatedMatrix::TransposeSelfProduct(Federation& fed) const {
  if (map_.partitioning() != Partitioning::kRow) {
    return FailedPrecondition("t(X) %*% X of a column-partitioned matrix needs cross-site products");
  }
  FEDRA_RETURN_IF_ERROR(RequireUntransposed("t(X) %*% X"));
  FEDRA_ASSIGN_OR_RETURN(std::vector<Matrix> sums, SumOverParts(fed, {PartOp{Op::kTsmm}}));
  return std::move(sums[0]);
}

Result<FederatedMatrix> FederatedMatrix::SelectColumns(Federation& fed, const std::vector<int64_t>& indices) const {
  if (map_.partitioning() != Partitioning::kRow) {
    return FailedPrecondition("column selection is implemented for row-partitioned matrices");
  }
  FEDRA_RETURN_IF_ERROR(RequireUntransposed("column selection"));
  std::vector<std::string> names;
  for (int64_t j : indices) {
    if (j < 0 || j >= cols()) return InvalidArgument("column index " + std::to_string(j) + " is out of range");
    names.push_back(column_names_.at(static_cast<size_t>(j)));
  }
  const PartOp op{Instruction(Op::kColumns, ColumnsParams{indices}.ToJson())};
  return MapParts(fed, op, {}, static_cast<int64_t>(indices.size()), std::move(names));
}

Result<FederatedMatrix::Split> FederatedMatrix::SplitRows(Federation& fed, double fraction, uint64_t seed) const {
  if (map_.partitioning() != Partitioning::kRow) return FailedPrecondition("row splits need a row-partitioned matrix");
  FEDRA_RETURN_IF_ERROR(RequireUntransposed("a row split"));
  if (!(fraction > 0 && fraction < 1)) return InvalidArgument("the held-out fraction must be between 0 and 1");
  // Per part: the training rows, then the held-out rows, each into a new variable.
  SiteRequests requests;
  std::vector<std::pair<VarId, VarId>> vars;
  for (const FederatedPart& p : map_.parts()) {
    vars.emplace_back(fed.NewVarId(), fed.NewVarId());
    for (bool held_out : {false, true}) {
      const Instruction split(Op::kSplitRows, SplitRowsParams{fraction, seed, held_out}.ToJson());
      requests[p.site].push_back(Request::Run(held_out ? vars.back().second : vars.back().first, split, {p.var}));
    }
  }
  SiteResponses responses = fed.Call(requests);
  auto release_all = [&] {
    for (size_t i = 0; i < vars.size(); ++i) {
      fed.Release(map_.parts()[i].site, vars[i].first);
      fed.Release(map_.parts()[i].site, vars[i].second);
    }
  };
  if (Status s = FirstError(responses); !s.ok()) {
    release_all();
    return s.WithContext("row split");
  }
  // Build both maps from the row counts the sites report; parts left empty are released.
  std::vector<FederatedPart> parts[2];
  std::vector<std::shared_ptr<const Recipe>> recipes[2];
  int64_t rows[2] = {0, 0};
  std::map<std::string, size_t> next;
  for (size_t i = 0; i < vars.size(); ++i) {
    const std::string& site = map_.parts()[i].site;
    std::shared_ptr<const Recipe> input = fed.recipes()->Find(site, map_.parts()[i].var);
    for (int side = 0; side < 2; ++side) {
      const VarId var = side == 0 ? vars[i].first : vars[i].second;
      const size_t k = next[site]++;
      const int64_t n = (*responses.at(site))[k].meta.value("rows", int64_t{0});
      if (n == 0) {
        fed.Release(site, var);
        continue;
      }
      parts[side].push_back(FederatedPart{site, var, {rows[side], rows[side] + n}});
      recipes[side].push_back(
          input ? std::make_shared<const Recipe>(Recipe{var, {requests.at(site)[k]}, {input}, n, 0, "splitRows"})
                : nullptr);
      rows[side] += n;
    }
  }
  if (rows[0] == 0 || rows[1] == 0) {
    for (const auto& side : parts) {
      for (const FederatedPart& p : side) fed.Release(p.site, p.var);
    }
    return FailedPrecondition("row split: a held-out fraction of " + std::to_string(fraction) + " of " +
                              std::to_string(this->rows()) + " rows leaves " +
                              (rows[0] == 0 ? "no training" : "no held-out") + " rows");
  }
  FEDRA_ASSIGN_OR_RETURN(FederationMap train,
                         FederationMap::Make(rows[0], cols(), Partitioning::kRow, std::move(parts[0])));
  FEDRA_ASSIGN_OR_RETURN(FederationMap held_out,
                         FederationMap::Make(rows[1], cols(), Partitioning::kRow, std::move(parts[1])));
  Split split{FederatedMatrix(fed, std::move(train), column_names_, recipes[0]),
              FederatedMatrix(fed, std::move(held_out), column_names_, recipes[1])};
  split.train.secure_sums_ = split.held_out.secure_sums_ = secure_sums_;
  return split;
}

}  // namespace fedra
