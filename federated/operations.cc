#include "federated/operations.h"

#include <array>

namespace fedra {
namespace {

constexpr std::array kOperations = {
    OperationInfo{"colSums", 1, true, "colSums(X): 1 x ncol sums over rows"},
    OperationInfo{"sum", 1, true, "sum(X): 1 x 1 sum of all values"},
    OperationInfo{"tsmm", 1, true, "t(X) %*% X: ncol x ncol"},
    OperationInfo{"tmatmul", 2, true, "t(X) %*% Y for row-aligned X and Y: ncol(X) x ncol(Y)"},
    OperationInfo{"tsmv", 2, true, "t(X) %*% (X %*% v) for a broadcast v, fused: ncol(X) x ncol(v)"},
    OperationInfo{"rowSums", 1, false, "rowSums(X): nrow x 1, stays row-level"},
    OperationInfo{"columns", 1, false, "X[, params.indices]: the chosen columns (0-based), in order"},
    OperationInfo{"matmul", 2, false, "X %*% V for a broadcast V: nrow(X) x ncol(V)"},
};

}  // namespace

std::span<const OperationInfo> Operations() { return kOperations; }

const OperationInfo* FindOperation(std::string_view name) {
  for (const OperationInfo& op : kOperations) {
    if (op.name == name) return &op;
  }
  return nullptr;
}

}  // namespace fedra
