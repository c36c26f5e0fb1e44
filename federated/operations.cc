#include "federated/operations.h"

#include <array>
#include <optional>

#include "common/code_table.h"
#include "common/config.h"

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

constexpr OperationInfo Entry(Op code, std::string_view name, int arity, OperationPrivacy privacy, std::string_view doc,
                              std::optional<Op> on_transposed = std::nullopt) {
  return OperationInfo{code, name, arity, on_transposed.value_or(code), privacy, doc};
}

constexpr std::array kOperations = {
    Entry(Op::kColSums, "colSums", 1, SumsRows(DpForm::kSums), "colSums(X): 1 x ncol sums over rows", Op::kRowSums),
    Entry(Op::kSum, "sum", 1, SumsRows(DpForm::kRowTotals), "sum(X): 1 x 1 sum of all values"),
    Entry(Op::kTsmm, "tsmm", 1, SumsRows(DpForm::kCrossProducts), "t(X) %*% X: ncol x ncol"),
    Entry(Op::kTmatmul, "tmatmul", 2, SumsRows(DpForm::kCrossProducts, 0b10),
          "t(X) %*% Y for row-aligned X and Y: ncol(X) x ncol(Y)", Op::kMatmul),
    Entry(Op::kTsmv, "tsmv", 2, SumsRows(DpForm::kNone),
          "t(X) %*% (X %*% v) for a broadcast v, fused: ncol(X) x ncol(v)"),
    Entry(Op::kTXwXv, "tXwXv", 3, SumsRows(DpForm::kNone, 0b010),
          "t(X) %*% (w * (X %*% v)) for row-aligned w (nrow x 1) and broadcast v, fused"),
    Entry(Op::kRowSums, "rowSums", 1, Mixes(), "rowSums(X): nrow x 1, stays row-level", Op::kColSums),
    Entry(Op::kColumns, "columns", 1, Picks(), "X[, params.indices]: the chosen columns (0-based), in order"),
    Entry(Op::kSplitRows, "splitRows", 1, Picks(E::kPicksRows),
          "rows of X drawn by a seeded hash: params.fraction of them with params.held_out, the others "
          "without; for protected data the site keys the hash with its own secret and draws whole cells"),
    Entry(Op::kMatmul, "matmul", 2, Mixes(), "X %*% V for a broadcast V: nrow(X) x ncol(V)", Op::kTmatmul),
    Entry(Op::kColSumSq, "colSumSq", 1, SumsRows(DpForm::kSquares), "colSums(X^2): 1 x ncol", Op::kRowSumSq),
    Entry(Op::kColMins, "colMins", 1, Refused(E::kAggregates, kOrder), "column minima: 1 x ncol", Op::kRowMins),
    Entry(Op::kColMaxs, "colMaxs", 1, Refused(E::kAggregates, kOrder), "column maxima: 1 x ncol", Op::kRowMaxs),
    // Row-wise counterparts, for the column aggregates of a transposed matrix.
    Entry(Op::kRowSumSq, "rowSumSq", 1, kNonlinearMap, "rowSums(X^2): nrow x 1, stays row-level", Op::kColSumSq),
    Entry(Op::kRowMins, "rowMins", 1, Refused(E::kKeepsRows, kOrder), "row minima: nrow x 1, stays row-level",
          Op::kColMins),
    Entry(Op::kRowMaxs, "rowMaxs", 1, Refused(E::kKeepsRows, kOrder), "row maxima: nrow x 1, stays row-level",
          Op::kColMaxs),
    // Elementwise X op Y, where Y is a 1x1 scalar, a 1 x ncol row vector, an nrow x 1 column
    // vector or a matrix of X's shape; params.reverse computes Y op X.
    Entry(Op::kAdd, "add", 2, Linear(), "X + Y (broadcast)"),
    Entry(Op::kSub, "sub", 2, Linear(), "X - Y (broadcast)"),
    Entry(Op::kMul, "mul", 2, ScaledBy(true), "X * Y (broadcast)"),
    Entry(Op::kDiv, "div", 2, ScaledBy(false), "X / Y (broadcast)"),
    Entry(Op::kLt, "lt", 2, kComparison, "X < Y as 0/1 (broadcast)"),
    Entry(Op::kLe, "le", 2, kComparison, "X <= Y as 0/1 (broadcast)"),
    Entry(Op::kGt, "gt", 2, kComparison, "X > Y as 0/1 (broadcast)"),
    Entry(Op::kGe, "ge", 2, kComparison, "X >= Y as 0/1 (broadcast)"),
    Entry(Op::kEq, "eq", 2, kComparison, "X == Y as 0/1 (broadcast)"),
    Entry(Op::kNe, "ne", 2, kComparison, "X != Y as 0/1 (broadcast)"),
    Entry(Op::kExp, "exp", 1, kNonlinearMap, "exp(X)"),
    Entry(Op::kLog, "log", 1, kNonlinearMap, "log(X)"),
    Entry(Op::kAbs, "abs", 1, kNonlinearMap, "abs(X)"),
    Entry(Op::kSqrt, "sqrt", 1, kNonlinearMap, "sqrt(X)"),
    Entry(Op::kSigmoid, "sigmoid", 1, kNonlinearMap, "1 / (1 + exp(-X))"),
    Entry(Op::kRound, "round", 1, kComparison, "round(X)"),
};
static_assert(kOperations.size() == kOperationCount);

// Entries sit at their code's index, so Describe is a lookup, and transpose partners pair up;
// checked when this file compiles.
static_assert(ListedInCodeOrder(kOperations), "kOperations must list each code at its index");
constexpr bool PartnersPairUp() {
  for (const OperationInfo& op : kOperations) {
    if (kOperations[static_cast<size_t>(op.on_transposed)].on_transposed != op.code) return false;
  }
  return true;
}
static_assert(PartnersPairUp(), "an operation's on_transposed partner must name it back");

}  // namespace

std::span<const OperationInfo> Operations() { return kOperations; }

const OperationInfo& Describe(Op op) { return kOperations[static_cast<size_t>(op)]; }

const OperationInfo* FindOperation(std::string_view name) {
  for (const OperationInfo& op : kOperations) {
    if (op.name == name) return &op;
  }
  return nullptr;
}

nlohmann::json ColumnsParams::ToJson() const { return {{"indices", indices}}; }

Result<ColumnsParams> ColumnsParams::Parse(const nlohmann::json& params) {
  JsonFields f(params, "columns: params");
  const nlohmann::json* indices = f.Child("indices");
  if (!indices || !indices->is_array() || indices->empty()) {
    return InvalidArgument(f.Path("indices") + ": expected a non-empty array of column indices");
  }
  ColumnsParams out;
  for (const nlohmann::json& index : *indices) {
    if (!index.is_number_integer() || index.get<int64_t>() < 0) {
      return InvalidArgument("columns: index " + index.dump() + " is not a column index");
    }
    out.indices.push_back(index.get<int64_t>());
  }
  return out;
}

nlohmann::json SplitRowsParams::ToJson() const {
  return {{"fraction", fraction}, {"seed", seed}, {"held_out", held_out}};
}

Result<SplitRowsParams> SplitRowsParams::Parse(const nlohmann::json& params) {
  SplitRowsParams out;
  JsonFields f(params, "splitRows: params");
  FEDRA_RETURN_IF_ERROR(f.Required("fraction", &out.fraction, 0, 1));
  if (out.fraction == 0 || out.fraction == 1) {
    return InvalidArgument(f.Path("fraction") + ": expected a number between 0 and 1, both excluded");
  }
  FEDRA_RETURN_IF_ERROR(f.Optional("seed", &out.seed));
  FEDRA_RETURN_IF_ERROR(f.Optional("held_out", &out.held_out));
  return out;
}

nlohmann::json ReversedParams() { return {{"reverse", true}}; }

bool IsReversed(const nlohmann::json& params) {
  const auto it = params.find("reverse");
  return it != params.end() && it->is_boolean() && it->get<bool>();
}

}  // namespace fedra
