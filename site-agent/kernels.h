// Local linear algebra for kExec requests (Eigen on the CPU). Each kernel checks its inputs'
// shapes and returns a clear error instead of asserting.
#pragma once

#include <span>

#include <nlohmann/json.hpp>

#include "common/matrix.h"
#include "common/status.h"
#include "federated/operations.h"

namespace fedra {

// Runs `op` on `inputs` (op.arity of them). kInvalidArgument on a shape mismatch. Operations
// that pick rows (splitRows) need the site's state and run in the executor instead.
Result<Matrix> RunOperation(const OperationInfo& op, std::span<const Matrix* const> inputs,
                            const nlohmann::json& params);

}  // namespace fedra
