// What the script's operators and builtins do when an operand is a federated matrix: they add
// nodes to the graph (graph.h), fusing the common chains into single site operations:
//   t(X) %*% X                    -> tsmm          t(X) %*% Y, t(X) %*% v  -> tmatmul
//   t(X) %*% (X %*% v)            -> tsmv          (t(X) %*% X) %*% v      -> tsmv
//   t(X) %*% (w * (X %*% v))      -> tXwXv         sum(X ^ 2), sum(X * X)  -> colSumSq, summed
//   colSums(X ^ 2)                -> colSumSq      rowSums(X ^ 2)          -> rowSumSq
// Local operands are values already computed (the caller forces them), so shapes are checked
// here, before anything is sent. Row-level results stay at the sites; aggregates come back.
#pragma once

#include <string>
#include <vector>

#include "master/script/graph.h"

namespace fedra::script {

// a op b for the arithmetic and comparison operators and ^ (only X ^ 2 on federated X).
Result<Value> FederatedBinary(Graph& g, const std::string& op, const Value& a, const Value& b, SourcePos pos);
// -X, !X.
Result<Value> FederatedUnary(Graph& g, const std::string& op, const Value& a, SourcePos pos);
// a %*% b where a or b is federated, or a is a pending t(X) %*% X.
Result<Value> FederatedMatMul(Graph& g, const Value& a, const Value& b, SourcePos pos);
// Whether a %*% b should go through FederatedMatMul: a or b is federated, or a is a pending
// t(X) %*% X (which a %*% v fuses with).
bool IsFederatedProduct(const Value& a, const Value& b);
bool IsPendingGram(const Value& v);
// X[rows, cols] of a federated X: only columns (rows null) may be chosen; indices are 1-based.
Result<Value> FederatedIndex(Graph& g, const Value& x, const Value* rows, const Value* cols, SourcePos pos);

// The builtins that take a federated matrix (nrow ncol length t sum mean colSums colMeans colVars
// colMins colMaxs min max rowSums rowMeans rowMins rowMaxs abs exp log sqrt sigmoid round); null
// `handled` for the others. `args` are the call's positional arguments.
Result<Value> FederatedBuiltin(Graph& g, const std::string& name, const std::vector<Value>& args, SourcePos pos,
                               bool* handled);

// "a federated matrix of R x C at sites a, b, c": what print shows of one.
std::string DescribeFederated(const Node& n);

}  // namespace fedra::script
