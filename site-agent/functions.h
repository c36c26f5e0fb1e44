// Named functions for kCall requests: site-local procedures larger than one operation (later:
// training steps and algorithm statistics). Each declares whether its output aggregates rows.
#pragma once

#include <span>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/bytes.h"
#include "common/matrix.h"
#include "common/status.h"

namespace fedra {

struct FunctionOutput {
  Matrix value;
  nlohmann::json meta = nlohmann::json::object();
  // For outputs made of per-group aggregates (per-cluster sums): the row count of the smallest
  // non-empty group, which then bounds what the release rule sees. 0: the whole input is one group.
  uint64_t smallest_group_rows = 0;
  // Returned in place of `value` when the request asks for a return (a compressed model
  // update); `value` is still what an output variable stores.
  Bytes packed;
};

// What a function may know of the site's policy for its inputs.
struct FunctionContext {
  // The fewest rows a released aggregate may cover: the site's minimum for private-aggregate
  // inputs, 1 otherwise. Functions that form groups keep each group at least this large.
  uint64_t min_group_rows = 1;
  bool use_gpu = false;  // train on the site's GPU
};

using FunctionBody = Result<FunctionOutput> (*)(std::span<const Matrix* const> inputs, const nlohmann::json& params,
                                                const FunctionContext& context);

struct FunctionInfo {
  std::string_view name;
  int arity;
  int optional_inputs;  // inputs after the first `arity` that a call may leave out
  bool aggregates_rows;
  FunctionBody run;
};

// The function called `name`, or nullptr.
const FunctionInfo* FindFunction(std::string_view name);

}  // namespace fedra
