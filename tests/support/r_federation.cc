#include "tests/support/r_federation.h"

#include <stdexcept>

namespace fedra::testing {

RFederation::RFederation(const std::string& name, const std::string& privacy)
    : r(LoadRCase(name, dir.path())), sites(dir.path() / "sites", {"a", "b", "c"}) {
  sites.AddSplitCsvDataset(name, r.data, UnevenThreeWaySplit(r.data.rows()), r.columns, privacy);
  sites.StartAll();
  fed = sites.Connect();
  Result<FederatedMatrix> read = FederatedMatrix::Read(*fed, name);
  if (!read.ok()) throw std::runtime_error(read.status().ToString());
  data.emplace(*read);
}

}  // namespace fedra::testing
