// The request targets the REST APIs route: /api/v1/<segments>?<query> (fedra's) and
// /api/2.0/mlflow/<segments>?<query> (MLflow's tracking API), parsed on their own so that the
// parser of bytes from the network can be fuzzed without a server (tests/fuzz).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace fedra {

// A request target as routed: the path's segments after /api/v1/ (or /api/2.0/mlflow/) and the
// query, decoded.
struct ApiTarget {
  bool mlflow = false;  // under /api/2.0/mlflow/
  std::vector<std::string> path;
  std::map<std::string, std::string> query;
};

// Parses an origin-form target with Boost.URL: the path's segments after the API's prefix and the
// query, both percent-decoded ('+' in the query is a space). kInvalidArgument for a malformed
// target, kNotFound for one outside /api/v1/ and /api/2.0/mlflow/.
Result<ApiTarget> ParseApiTarget(std::string_view target);

}  // namespace fedra
