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
    OperationInfo{"tXwXv", 3, true,
                  "t(X) %*% (w * (X %*% v)) for row-aligned w (nrow x 1) and broadcast v, fused"},
    OperationInfo{"rowSums", 1, false, "rowSums(X): nrow x 1, stays row-level"},
    OperationInfo{"columns", 1, false, "X[, params.indices]: the chosen columns (0-based), in order"},
    OperationInfo{"splitRows", 1, false,
                  "rows of X drawn by a seeded hash of the row index: params.fraction of them with "
                  "params.held_out, the others without"},
    OperationInfo{"matmul", 2, false, "X %*% V for a broadcast V: nrow(X) x ncol(V)"},
    OperationInfo{"colSumSq", 1, true, "colSums(X^2): 1 x ncol"},
    OperationInfo{"colMins", 1, true, "column minima: 1 x ncol"},
    OperationInfo{"colMaxs", 1, true, "column maxima: 1 x ncol"},
    // Row-wise counterparts, for the column aggregates of a transposed matrix.
    OperationInfo{"rowSumSq", 1, false, "rowSums(X^2): nrow x 1, stays row-level"},
    OperationInfo{"rowMins", 1, false, "row minima: nrow x 1, stays row-level"},
    OperationInfo{"rowMaxs", 1, false, "row maxima: nrow x 1, stays row-level"},
    // Elementwise X op Y, where Y is a 1x1 scalar, a 1 x ncol row vector, an nrow x 1 column
    // vector or a matrix of X's shape; params.reverse computes Y op X.
    OperationInfo{"add", 2, false, "X + Y (broadcast)"},
    OperationInfo{"sub", 2, false, "X - Y (broadcast)"},
    OperationInfo{"mul", 2, false, "X * Y (broadcast)"},
    OperationInfo{"div", 2, false, "X / Y (broadcast)"},
    OperationInfo{"lt", 2, false, "X < Y as 0/1 (broadcast)"},
    OperationInfo{"le", 2, false, "X <= Y as 0/1 (broadcast)"},
    OperationInfo{"gt", 2, false, "X > Y as 0/1 (broadcast)"},
    OperationInfo{"ge", 2, false, "X >= Y as 0/1 (broadcast)"},
    OperationInfo{"eq", 2, false, "X == Y as 0/1 (broadcast)"},
    OperationInfo{"ne", 2, false, "X != Y as 0/1 (broadcast)"},
    OperationInfo{"exp", 1, false, "exp(X)"},
    OperationInfo{"log", 1, false, "log(X)"},
    OperationInfo{"abs", 1, false, "abs(X)"},
    OperationInfo{"sqrt", 1, false, "sqrt(X)"},
    OperationInfo{"sigmoid", 1, false, "1 / (1 + exp(-X))"},
    OperationInfo{"round", 1, false, "round(X)"},
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
