#include "tests/support/federated_data.h"

#include <map>
#include <numeric>

namespace fedra::testing {

Result<std::pair<FederatedMatrix, FederatedMatrix>> ReadFeaturesAndLabel(Federation& fed, const std::string& dataset) {
  FEDRA_ASSIGN_OR_RETURN(FederatedMatrix data, FederatedMatrix::Read(fed, dataset));
  std::vector<int64_t> features(static_cast<size_t>(data.cols() - 1));
  std::iota(features.begin(), features.end(), 0);
  FEDRA_ASSIGN_OR_RETURN(FederatedMatrix x, data.SelectColumns(fed, features));
  FEDRA_ASSIGN_OR_RETURN(FederatedMatrix y, data.SelectColumns(fed, {data.cols() - 1}));
  return std::pair(std::move(x), std::move(y));
}

Result<Matrix> FetchValues(Federation& fed, const FederatedMatrix& x) {
  SiteRequests requests;
  for (const FederatedPart& p : x.map().parts()) requests[p.site].push_back(Request::Get(p.var));
  SiteResponses r = fed.Call(requests);
  FEDRA_RETURN_IF_ERROR(FirstError(r));
  Matrix out(x.rows(), x.cols());
  std::map<std::string, size_t> next;
  for (const FederatedPart& p : x.map().parts()) {
    Matrix v = std::move(*(*r.at(p.site))[next[p.site]++].value);
    if (x.transposed()) v.transposeInPlace();  // stored as the transpose of the view's block
    const bool by_row = x.map().partitioning() == Partitioning::kRow;
    if (v.rows() != (by_row ? p.range.size() : x.rows()) || v.cols() != (by_row ? x.cols() : p.range.size())) {
      return DataLoss("site '" + p.site + "' holds a " + std::to_string(v.rows()) + "x" + std::to_string(v.cols()) +
                      " block where the map says otherwise");
    }
    if (x.map().partitioning() == Partitioning::kRow) {
      out.middleRows(p.range.begin, p.range.size()) = v;
    } else {
      out.middleCols(p.range.begin, p.range.size()) = v;
    }
  }
  return out;
}

}  // namespace fedra::testing
