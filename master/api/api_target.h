// The request targets the REST API routes: /api/v1/<segments>?<query>, parsed on its own so that
// the parser of bytes from the network can be fuzzed without a server (tests/fuzz).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace fedra {

// A request target as routed: the path's segments after /api/v1/ and the query, decoded.
struct ApiTarget {
  std::vector<std::string> path;
  std::map<std::string, std::string> query;
};

// Parses an origin-form target with Boost.URL: the path's segments after /api/v1/ and the query,
// both percent-decoded ('+' in the query is a space). kInvalidArgument for a malformed target,
// kNotFound for one outside /api/v1/.
Result<ApiTarget> ParseApiTarget(std::string_view target);

}  // namespace fedra
