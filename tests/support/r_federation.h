// A real data set from R (r_oracle.h) split unevenly over three sites in this process, read as
// one row-partitioned federated matrix: the setting of the algorithms' real-data tests.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "master/federation/federation.h"
#include "master/tensor/federated_matrix.h"
#include "tests/support/in_process_federation.h"
#include "tests/support/r_oracle.h"
#include "tests/support/temp_dir.h"

namespace fedra::testing {

struct RFederation {
  // Loads R's case `name` and serves it at sites a, b and c (about 20%, 30% and 50% of the rows,
  // in R's order) as a dataset of that name with `privacy`; throws when anything fails.
  RFederation(const std::string& name, const std::string& privacy);

  TempDir dir;
  RCase r;
  InProcessSites sites;
  std::unique_ptr<Federation> fed;
  std::optional<FederatedMatrix> data;
};

}  // namespace fedra::testing
