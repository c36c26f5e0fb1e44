#include "master/federation/site_subset.h"

#include <algorithm>
#include <set>

namespace fedra {

Result<std::unique_ptr<SiteSubset>> SiteSubset::Make(Federation& parent, std::vector<std::string> sites) {
  if (sites.empty()) return InvalidArgument("no sites named");
  const std::vector<std::string>& known = parent.site_names();
  std::string unknown, all;
  std::set<std::string> seen;
  for (const std::string& s : sites) {
    if (!seen.insert(s).second) return InvalidArgument("site '" + s + "' is named twice");
    if (std::find(known.begin(), known.end(), s) == known.end()) unknown += (unknown.empty() ? "'" : ", '") + s + "'";
  }
  if (!unknown.empty()) {
    for (const std::string& s : known) all += (all.empty() ? "" : ", ") + s;
    return InvalidArgument("unknown site " + unknown + " (the federation has: " + all + ")");
  }
  return std::unique_ptr<SiteSubset>(new SiteSubset(parent, std::move(sites)));
}

std::future<Result<ResponseBatch>> SiteSubset::Send(const std::string& site, const RequestBatch& batch) {
  // Each site's call runs on its own thread, so that the sites still work in parallel.
  return std::async(std::launch::async, [this, &site, &batch]() -> Result<ResponseBatch> {
    SiteResponses answers = parent_.Call({{site, batch.requests}});
    Result<std::vector<Response>>& answer = answers.at(site);
    if (!answer.ok()) return answer.status();
    return ResponseBatch{batch.id, 0, std::move(answer).value()};  // the parent follows incarnations
  });
}

}  // namespace fedra
