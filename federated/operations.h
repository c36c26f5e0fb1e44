// The local operations a site executes for kExec requests, as both sides must agree on them:
// a code, the name that travels on the wire (and in audit trails), the number of inputs, the
// operation computing the same on a transposed block, and the privacy behaviour (how rows
// propagate, what is allowed on protected rows, what a dp-aggregate release noises; see
// privacy.h). The site implements them by code; the master only names them.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "federated/privacy.h"

namespace fedra {

// In table order (operations.cc). Requests carry the name, so codes may be renumbered.
enum class Op : uint8_t {
  kColSums,
  kSum,
  kTsmm,
  kTmatmul,
  kTsmv,
  kTXwXv,
  kRowSums,
  kColumns,
  kSplitRows,
  kMatmul,
  kColSumSq,
  kColMins,
  kColMaxs,
  kRowSumSq,
  kRowMins,
  kRowMaxs,
  kAdd,
  kSub,
  kMul,
  kDiv,
  kLt,
  kLe,
  kGt,
  kGe,
  kEq,
  kNe,
  kExp,
  kLog,
  kAbs,
  kSqrt,
  kSigmoid,
  kRound,
};
inline constexpr size_t kOperationCount = static_cast<size_t>(Op::kRound) + 1;

struct OperationInfo {
  Op code;
  std::string_view name;
  int arity;  // number of input variables
  // The operation that gives the same result on the transpose of every input block, transposed
  // (colSums <-> rowSums, matmul <-> tmatmul); the operation itself where transposing commutes.
  Op on_transposed;
  OperationPrivacy privacy;
  std::string_view doc;  // one line, for --help and error messages
};

// Every operation sites support, indexed by code.
std::span<const OperationInfo> Operations();

// The entry of `op`.
const OperationInfo& Describe(Op op);

// The operation called `name`, or nullptr.
const OperationInfo* FindOperation(std::string_view name);

// Parameters of the operations that take any (the others ignore theirs). Each knows its JSON
// form, written by the master and parsed by the site, in one place.
struct ColumnsParams {
  std::vector<int64_t> indices;  // 0-based, in the order wanted

  nlohmann::json ToJson() const;
  static Result<ColumnsParams> Parse(const nlohmann::json& params);
};

struct SplitRowsParams {
  double fraction = 0;  // of the rows drawn for the held-out part, in (0, 1)
  uint64_t seed = 1;
  bool held_out = false;  // the drawn rows, or the others

  nlohmann::json ToJson() const;
  static Result<SplitRowsParams> Parse(const nlohmann::json& params);
};

// Binary elementwise operations: Y op X in place of X op Y.
nlohmann::json ReversedParams();
bool IsReversed(const nlohmann::json& params);

}  // namespace fedra
