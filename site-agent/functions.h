// Named functions for kCall requests: site-local procedures larger than one operation (later:
// training steps and algorithm statistics). Each declares whether its output aggregates rows.
#pragma once

#include <span>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/matrix.h"
#include "common/status.h"

namespace fedra {

struct FunctionOutput {
  Matrix value;
  nlohmann::json meta = nlohmann::json::object();
};

struct FunctionInfo {
  std::string_view name;
  int arity;
  bool aggregates_rows;
  Result<FunctionOutput> (*run)(std::span<const Matrix* const> inputs, const nlohmann::json& params);
};

// The function called `name`, or nullptr.
const FunctionInfo* FindFunction(std::string_view name);

}  // namespace fedra
