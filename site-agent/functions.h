// The site's implementations of the named functions for kCall requests (federated/site_functions.h
// declares them, their parameters and their privacy behaviour): site-local procedures larger than
// one operation, training steps and algorithm statistics, in a table by code. Errors never quote
// the data: they say what is wrong.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/bytes.h"
#include "common/matrix.h"
#include "common/status.h"
#include "federated/site_functions.h"
#include "site-agent/support.h"
#include "site-agent/trainer.h"

namespace fedra {

struct FunctionOutput {
  Matrix value;
  nlohmann::json meta = nlohmann::json::object();
  // The effective support the function measured: the fewest rows behind any number of its
  // output (the smallest non-empty cluster, a training batch). 0: not measured here.
  uint64_t support = 0;
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
  // For private-aggregate rows: the cell of each row of input 0 (row_cells.h) and the number of
  // cells. Functions that group rows then group whole cells. Empty otherwise.
  std::span<const uint32_t> cell_of_row;
  uint32_t cells = 0;
  // For private-aggregate rows: how the columns of input 0 spread (support.h).
  const std::vector<ColumnSpread>* spread = nullptr;
  // Bit i: input i holds protected rows that arithmetic changed since they were read. A label
  // input must not: whether a shifted column passes a class-code check answers a master's search.
  uint32_t transformed_inputs = 0;
  // For trainLocal and evalModel: input 0 as row-major floats, kept by the site across calls.
  FloatRowsSource float_rows;
  // Per input: its value where it is held as float32 and the function reads it so (FloatInputs);
  // the input's Matrix is then null. Empty, or null throughout, otherwise.
  std::span<const Eigen::MatrixXf* const> float_inputs;
  // The result is returned and goes into no variable (output 0, with "return").
  bool returned_only = false;

  // Private-aggregate rows: a count of rows on one side of a boundary the master chose (correct
  // predictions) moves one row at a time as the boundary moves, so it is withheld (NaN).
  bool withhold_decision_counts() const { return min_group_rows > 1; }
  // kPermissionDenied when input `i`, which the function reads as class codes, was transformed.
  Status CheckLabelsAsRead(int i, std::string_view function) const;
};

// Bit i: `function` reads input i as float32 (a model's parameters), and takes a value held as
// floats as it lies (FunctionContext::float_inputs).
uint32_t FloatInputs(SiteFunction function);

// Runs `function` on `inputs` (already checked against its arity) with its parameters as they
// came; kInvalidArgument when they do not parse.
Result<FunctionOutput> RunFunction(SiteFunction function, std::span<const Matrix* const> inputs,
                                   const nlohmann::json& params, const FunctionContext& context);

}  // namespace fedra
