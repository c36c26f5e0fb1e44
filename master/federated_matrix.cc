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

Result<std::vector<Matrix>> FederatedMatrix::ExecOnParts(Federation& fed, const std::string& op) const {
  SiteRequests requests;
  for (const FederatedPart& p : map_.parts()) {
    requests[p.site].push_back(Request::Exec(/*output=*/0, op, {p.var}, /*return_value=*/true));
  }
  SiteResponses responses = fed.Call(requests);
  FEDRA_RETURN_IF_ERROR(FirstError(responses).WithContext(op));
  std::map<std::string, size_t> next;  // per site, the next response to take
  std::vector<Matrix> results;
  for (const FederatedPart& p : map_.parts()) {
    Response& r = (*responses.at(p.site))[next[p.site]++];
    if (!r.value) return DataLoss(op + ": site '" + p.site + "' returned no value");
    results.push_back(std::move(*r.value));
  }
  return results;
}

Result<Matrix> FederatedMatrix::ColSums(Federation& fed) const {
  FEDRA_ASSIGN_OR_RETURN(std::vector<Matrix> parts, ExecOnParts(fed, "colSums"));
  Matrix out = Matrix::Zero(1, cols());
  for (size_t i = 0; i < parts.size(); ++i) {
    const IndexRange& range = map_.parts()[i].range;
    if (map_.partitioning() == Partitioning::kRow) {
      out += parts[i];
    } else {
      out.middleCols(range.begin, range.size()) = parts[i];
    }
  }
  return out;
}

Result<Matrix> FederatedMatrix::TransposeSelfProduct(Federation& fed) const {
  if (map_.partitioning() != Partitioning::kRow) {
    return FailedPrecondition("t(X) %*% X of a column-partitioned matrix needs cross-site products");
  }
  FEDRA_ASSIGN_OR_RETURN(std::vector<Matrix> parts, ExecOnParts(fed, "tsmm"));
  Matrix out = Matrix::Zero(cols(), cols());
  for (const Matrix& p : parts) out += p;
  return out;
}

Status FederatedMatrix::Clear(Federation& fed) const {
  SiteRequests requests;
  for (const FederatedPart& p : map_.parts()) requests[p.site].push_back(Request::Clear({p.var}));
  return FirstError(fed.Call(requests));
}

}  // namespace fedra
