// The OpenAPI 3 description of /api/v1 (master/api/openapi.json, compiled in), served at
// GET /api/v1/openapi.json; tests check real responses against it.
#pragma once

#include <string_view>

namespace fedra {

std::string_view OpenApiDocument();

}  // namespace fedra
