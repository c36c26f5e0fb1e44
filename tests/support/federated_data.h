// Reading federated data back in tests, on any Federation.
#pragma once

#include <string>
#include <utility>

#include "common/matrix.h"
#include "master/federation/federation.h"
#include "master/tensor/federated_matrix.h"

namespace fedra::testing {

// Fetches a federated matrix's values from its sites (they must be releasable, e.g. public) and
// stacks them in place.
Result<Matrix> FetchValues(Federation& fed, const FederatedMatrix& x);

// Reads `dataset` at the sites and splits it into its features (every column but the last) and
// its label (the last column), both staying at the sites.
Result<std::pair<FederatedMatrix, FederatedMatrix>> ReadFeaturesAndLabel(Federation& fed, const std::string& dataset);

}  // namespace fedra::testing
