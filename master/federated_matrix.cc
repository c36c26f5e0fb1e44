#include "master/federated_matrix.h"

namespace fedra {

Result<FederatedMatrix> FederatedMatrix::Read(Federation& fed, const std::string& dataset,
                                              const std::vector<std::string>& columns) {
  SiteRequests requests;
  std::map<std::string, VarId> vars;
  for (const std::string& site : fed.site_names()) {
    vars[site] = fed.NewVarId();
    requests[site] = {Request::Read(vars[site], dataset, columns)};
  }
  SiteResponses responses = fed.Call(requests);

  auto fail = [&](Status s) -> Result<FederatedMatrix> {
    // Leave nothing behind at the sites that did read.
    SiteRequests cleanup;
    for (const auto& [site, r] : responses) {
      if (r.ok() && r->front().status.ok()) cleanup[site] = {Request::Clear({vars[site]})};
    }
    if (!cleanup.empty()) (void)fed.Call(cleanup);
    return s.WithContext("read '" + dataset + "'");
  };
  if (Status s = FirstError(responses); !s.ok()) return fail(s);

  std::vector<FederatedPart> parts;
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
      return fail(InvalidArgument("site '" + site + "' has " + std::to_string(c) +
                                  " columns that differ from site '" + first_site + "' (" +
                                  std::to_string(cols) + " columns)"));
    }
    if (r == 0) {
      (void)fed.Call({{site, {Request::Clear({vars[site]})}}});
      continue;
    }
    parts.push_back(FederatedPart{site, vars[site], IndexRange{rows, rows + r}});
    rows += r;
  }
  Result<FederationMap> map = FederationMap::Make(rows, cols, Partitioning::kRow, std::move(parts));
  if (!map.ok()) return fail(map.status());
  return FederatedMatrix(std::move(*map), std::move(names));
}

Result<std::vector<std::vector<Matrix>>> FederatedMatrix::RunOnParts(
    Federation& fed, const std::vector<PartOp>& ops, const Matrix* broadcast) const {
  const auto& parts = map_.parts();
  for (const PartOp& op : ops) {
    for (size_t i = 0; op.aligned && i < parts.size(); ++i) {
      const auto& other = op.aligned->map().parts();
      if (other.size() != parts.size() || other[i].site != parts[i].site ||
          other[i].range.begin != parts[i].range.begin || other[i].range.end != parts[i].range.end) {
        return InvalidArgument(op.op + ": the two matrices are not partitioned alike");
      }
    }
    if (op.broadcast && !broadcast) return InvalidArgument(op.op + ": no broadcast value given");
  }
  SiteRequests requests;
  std::map<std::string, VarId> broadcast_vars;
  for (size_t i = 0; i < parts.size(); ++i) {
    const FederatedPart& p = parts[i];
    auto& reqs = requests[p.site];
    if (broadcast && !broadcast_vars.contains(p.site)) {
      broadcast_vars[p.site] = fed.NewVarId();
      reqs.push_back(Request::Put(broadcast_vars[p.site], *broadcast));
    }
    for (const PartOp& op : ops) {
      std::vector<VarId> inputs = {p.var};
      if (op.aligned) inputs.push_back(op.aligned->map().parts()[i].var);
      if (op.broadcast) inputs.push_back(broadcast_vars[p.site]);
      reqs.push_back(Request::Exec(/*output=*/0, op.op, std::move(inputs), /*return_value=*/true));
    }
  }
  for (const auto& [site, var] : broadcast_vars) requests[site].push_back(Request::Clear({var}));

  SiteResponses responses = fed.Call(requests);
  FEDRA_RETURN_IF_ERROR(FirstError(responses).WithContext(ops.size() == 1 ? ops[0].op : "step"));
  std::map<std::string, size_t> next;  // per site, the next response to take
  for (const auto& [site, var] : broadcast_vars) next[site] = 1;  // skip the put
  std::vector<std::vector<Matrix>> results(ops.size());
  for (const FederatedPart& p : parts) {
    for (size_t k = 0; k < ops.size(); ++k) {
      Response& r = (*responses.at(p.site))[next[p.site]++];
      if (!r.value) return DataLoss(ops[k].op + ": site '" + p.site + "' returned no value");
      results[k].push_back(std::move(*r.value));
    }
  }
  return results;
}

Result<std::vector<Matrix>> FederatedMatrix::SumOverParts(Federation& fed, const std::vector<PartOp>& ops,
                                                          const Matrix* broadcast) const {
  if (map_.partitioning() != Partitioning::kRow) {
    return FailedPrecondition("sums over parts need a row-partitioned matrix");
  }
  FEDRA_ASSIGN_OR_RETURN(auto per_part, RunOnParts(fed, ops, broadcast));
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

Result<Matrix> FederatedMatrix::ColSums(Federation& fed) const {
  FEDRA_ASSIGN_OR_RETURN(auto per_part, RunOnParts(fed, {PartOp{"colSums"}}, nullptr));
  Matrix out = Matrix::Zero(1, cols());
  for (size_t i = 0; i < per_part[0].size(); ++i) {
    const IndexRange& range = map_.parts()[i].range;
    if (map_.partitioning() == Partitioning::kRow) {
      out += per_part[0][i];
    } else {
      out.middleCols(range.begin, range.size()) = per_part[0][i];
    }
  }
  return out;
}

Result<Matrix> FederatedMatrix::TransposeSelfProduct(Federation& fed) const {
  if (map_.partitioning() != Partitioning::kRow) {
    return FailedPrecondition("t(X) %*% X of a column-partitioned matrix needs cross-site products");
  }
  FEDRA_ASSIGN_OR_RETURN(std::vector<Matrix> sums, SumOverParts(fed, {PartOp{"tsmm"}}));
  return std::move(sums[0]);
}

Result<FederatedMatrix> FederatedMatrix::Distribute(Federation& fed,
                                                    std::vector<std::pair<std::string, Matrix>> parts,
                                                    std::vector<std::string> column_names) {
  SiteRequests requests;
  std::vector<FederatedPart> meta;
  int64_t rows = 0;
  for (auto& [site, value] : parts) {
    if (value.cols() != static_cast<Eigen::Index>(column_names.size())) {
      return InvalidArgument("part for site '" + site + "' has " + std::to_string(value.cols()) +
                             " columns, expected " + std::to_string(column_names.size()));
    }
    meta.push_back(FederatedPart{site, fed.NewVarId(), {rows, rows + value.rows()}});
    rows += value.rows();
    requests[site].push_back(Request::Put(meta.back().var, std::move(value)));
  }
  FEDRA_RETURN_IF_ERROR(FirstError(fed.Call(requests)).WithContext("distribute"));
  FEDRA_ASSIGN_OR_RETURN(FederationMap map,
                         FederationMap::Make(rows, static_cast<int64_t>(column_names.size()),
                                             Partitioning::kRow, std::move(meta)));
  return FederatedMatrix(std::move(map), std::move(column_names));
}

Result<FederatedMatrix> FederatedMatrix::SelectColumns(Federation& fed,
                                                       const std::vector<int64_t>& indices) const {
  if (map_.partitioning() != Partitioning::kRow) {
    return FailedPrecondition("column selection is implemented for row-partitioned matrices");
  }
  std::vector<std::string> names;
  for (int64_t j : indices) {
    if (j < 0 || j >= cols()) return InvalidArgument("column index " + std::to_string(j) + " is out of range");
    names.push_back(column_names_.at(static_cast<size_t>(j)));
  }
  SiteRequests requests;
  std::vector<FederatedPart> parts;
  for (const FederatedPart& p : map_.parts()) {
    parts.push_back(FederatedPart{p.site, fed.NewVarId(), p.range});
    requests[p.site].push_back(
        Request::Exec(parts.back().var, "columns", {p.var}, false, {{"indices", indices}}));
  }
  FEDRA_RETURN_IF_ERROR(FirstError(fed.Call(requests)).WithContext("select columns"));
  FEDRA_ASSIGN_OR_RETURN(FederationMap map, FederationMap::Make(rows(), static_cast<int64_t>(indices.size()),
                                                                Partitioning::kRow, std::move(parts)));
  return FederatedMatrix(std::move(map), std::move(names));
}

Status FederatedMatrix::Clear(Federation& fed) const {
  SiteRequests requests;
  for (const FederatedPart& p : map_.parts()) requests[p.site].push_back(Request::Clear({p.var}));
  return FirstError(fed.Call(requests));
}

}  // namespace fedra
