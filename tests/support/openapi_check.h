// Checks real responses against an OpenAPI 3 document: finds the operation for a method and a
// concrete path ("/runs/3/metrics/loss" is "/runs/{id}/metrics/{key}"; a literal segment wins
// over a parameter), the schema for the status and content type, and checks the body against
// it (OpenAPI 3.0's JSON Schema: type, nullable, enum, required, properties, items, maxItems,
// and $ref into the document).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace fedra::testing {

class OpenApiCheck {
 public:
  explicit OpenApiCheck(nlohmann::json document) : doc_(std::move(document)) {}

  // kNotFound when the document has no such operation, status or content type; kInvalidArgument
  // naming the first place where the body departs from the schema.
  Status CheckResponse(const std::string& method, const std::string& path, int status, const std::string& content_type,
                       const std::string& body) const;

  // Whether the document describes `method` at `path_template` ("/runs/{id}").
  bool Describes(const std::string& method, const std::string& path_template) const;

  Status CheckValue(const nlohmann::json& schema, const nlohmann::json& value, const std::string& where) const;

 private:
  const nlohmann::json& Resolve(const nlohmann::json& maybe_ref) const;

  nlohmann::json doc_;
};

}  // namespace fedra::testing
