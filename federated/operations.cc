#include "federated/operations.h"

#include <array>

namespace fedra {
namespace {

using E = RowEffect;
using P = OnProtectedRows;

// What the master could learn from each refused kind of operation on protected rows.
constexpr std::string_view kSelects = "a comparison with a chosen threshold is a mask that singles out rows";
constexpr std::string_view kNonlinear =
    "a nonlinear map of shifted and scaled values can act as a mask or a power that singles out rows";
constexpr std::string_view kOrder = "an order statistic is the value of one cell";
constexpr std::string_view kProducts = "products of row-level values build masks and powers that single out rows";

// Keeps rows, or some of them, as they are: picks columns or rows.
constexpr OperationPrivacy Picks(E effect = E::kKeepsRows) {
  OperationPrivacy p;
  p.effect = effect;
  return p;
}
// Changes values: X op Y with broadcasting, where Y (input 1) is row-aligned when it has X's rows.
constexpr OperationPrivacy Linear() {
  OperationPrivacy p = Picks();
  p.aligned_inputs = 0b10;
  p.changes_values = true;
  return p;
}
// Combines columns: X %*% V, rowSums(X).
constexpr OperationPrivacy Mixes() {
  OperationPrivacy p = Picks();
  p.changes_values = true;
  p.mixes_columns = true;
  return p;
}
constexpr OperationPrivacy ScaledBy(bool reversible) {
  OperationPrivacy p = Linear();
  p.on_protected = P::kBroadcastOperand;
  p.reversible = reversible;
  p.risk = kProducts;
  return p;
}
constexpr OperationPrivacy Refused(E effect, std::string_view risk) {
  OperationPrivacy p = Linear();
  p.effect = effect;
  p.on_protected = P::kRefused;
  p.risk = risk;
  return p;
}

// Comparisons and nonlinear maps: masks and powers on protected rows, refused.
constexpr OperationPrivacy kComparison = Refused(E::kKeepsRows, kSelects);
constexpr OperationPrivacy kNonlinearMap = Refused(E::kKeepsRows, kNonlinear);

constexpr std::array kOperations = {
    OperationInfo{"colSums", 1, SumsRows(DpForm::kSums), "colSums(X): 1 x ncol sums over rows"},
    OperationInfo{"sum", 1, SumsRows(DpForm::kRowTotals), "sum(X): 1 x 1 sum of all values"},
    OperationInfo{"tsmm", 1, SumsRows(DpForm::kCrossProducts), "t(X) %*% X: ncol x ncol"},
    OperationInfo{"tmatmul", 2, SumsRows(DpForm::kCrossProducts, 0b10),
                  "t(X) %*% Y for row-aligned X and Y: ncol(X) x ncol(Y)"},
    OperationInfo{"tsmv", 2, SumsRows(DpForm::kNone), "t(X) %*% (X %*% v) for a broadcast v, fused: ncol(X) x ncol(v)"},
    OperationInfo{"tXwXv", 3, SumsRows(DpForm::kNone, 0b010),
                  "t(X) %*% (w * (X %*% v)) for row-aligned w (nrow x 1) and broadcast v, fused"},
    OperationInfo{"rowSums", 1, Mixes(), "rowSums(X): nrow x 1, stays row-level"},
    OperationInfo{"columns", 1, Picks(), "X[, params.indices]: the chosen columns (0-based), in order"},
    OperationInfo{"splitRows", 1, Picks(E::kPicksRows),
                  "rows of X drawn by a seeded hash: params.fraction of them with params.held_out, the others "
                  "without; for protected data the site keys the hash with its own secret and draws whole cells"},
    OperationInfo{"matmul", 2, Mixes(), "X %*% V for a broadcast V: nrow(X) x ncol(V)"},
    OperationInfo{"colSumSq", 1, SumsRows(DpForm::kSquares), "colSums(X^2): 1 x ncol"},
    OperationInfo{"colMins", 1, Refused(E::kAggregates, kOrder), "column minima: 1 x ncol"},
    OperationInfo{"colMaxs", 1, Refused(E::kAggregates, kOrder), "column maxima: 1 x ncol"},
    // Row-wise counterparts, for the column aggregates of a transposed matrix.
    OperationInfo{"rowSumSq", 1, kNonlinearMap, "rowSums(X^2): nrow x 1, stays row-level"},
    OperationInfo{"rowMins", 1, Refused(E::kKeepsRows, kOrder), "row minima: nrow x 1, stays row-level"},
    OperationInfo{"rowMaxs", 1, Refused(E::kKeepsRows, kOrder), "row maxima: nrow x 1, stays row-level"},
    // Elementwise X op Y, where Y is a 1x1 scalar, a 1 x ncol row vector, an nrow x 1 column
    // vector or a matrix of X's shape; params.reverse computes Y op X.
    OperationInfo{"add", 2, Linear(), "X + Y (broadcast)"},
    OperationInfo{"sub", 2, Linear(), "X - Y (broadcast)"},
    OperationInfo{"mul", 2, ScaledBy(true), "X * Y (broadcast)"},
    OperationInfo{"div", 2, ScaledBy(false), "X / Y (broadcast)"},
    OperationInfo{"lt", 2, kComparison, "X < Y as 0/1 (broadcast)"},
    OperationInfo{"le", 2, kComparison, "X <= Y as 0/1 (broadcast)"},
    OperationInfo{"gt", 2, kComparison, "X > Y as 0/1 (broadcast)"},
    OperationInfo{"ge", 2, kComparison, "X >= Y as 0/1 (broadcast)"},
    OperationInfo{"eq", 2, kComparison, "X == Y as 0/1 (broadcast)"},
    OperationInfo{"ne", 2, kComparison, "X != Y as 0/1 (broadcast)"},
    OperationInfo{"exp", 1, kNonlinearMap, "exp(X)"},
    OperationInfo{"log", 1, kNonlinearMap, "log(X)"},
    OperationInfo{"abs", 1, kNonlinearMap, "abs(X)"},
    OperationInfo{"sqrt", 1, kNonlinearMap, "sqrt(X)"},
    OperationInfo{"sigmoid", 1, kNonlinearMap, "1 / (1 + exp(-X))"},
    OperationInfo{"round", 1, kComparison, "round(X)"},
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
