// Local linear algebra for kExec requests (Eigen on the CPU), one kernel per operation code in a
// table. Each kernel checks its inputs' shapes and returns a clear error instead of asserting.
#pragma once

#include <span>

#include <nlohmann/json.hpp>

#include "common/matrix.h"
#include "common/status.h"
#include "federated/operations.h"

namespace fedra {

// Runs `op` on `inputs` (its arity of them). kInvalidArgument on a shape mismatch or bad params.
// Operations that pick rows (splitRows) need the site's state and run in the executor instead.
Result<Matrix> RunOperation(Op op, std::span<const Matrix* const> inputs, const nlohmann::json& params);

// The most values `op`'s result on `inputs` can hold, from their shapes alone: the executor
// charges it to the memory budget before it computes (a t(X) %*% X of 200,000 columns is refused
// at once, not after allocating 320 GB).
uint64_t ResultValuesBound(Op op, std::span<const Matrix* const> inputs, const nlohmann::json& params);

}  // namespace fedra
