// What a kExec or kCall request runs: an operation (federated/operations.h) or a site function
// with its typed parameters (federated/site_functions.h). The type of what it is built from
// picks the request type, so an operation can never go out as a call or the other way round:
//   Request::Run(out, Op::kColSums, {x}, true)
//   Request::Run(out, {Op::kSub, ReversedParams()}, {x, b})
//   Request::Run(out, KMeansStepParams{.k = 3}, {x, centres}, true)
#pragma once

#include <optional>
#include <string_view>

#include <nlohmann/json.hpp>

#include "federated/operations.h"
#include "federated/protocol.h"
#include "federated/site_functions.h"

namespace fedra {

class Instruction {
 public:
  Instruction(Op op, nlohmann::json params = nlohmann::json::object())  // NOLINT: implicit by design
      : type_(RequestType::kExec), name_(Describe(op).name), op_(op), params_(std::move(params)) {}
  template <SiteFunctionParams P>
  Instruction(const P& params)  // NOLINT: implicit by design
      : type_(RequestType::kCall), name_(Describe(P::kFunction).name), params_(params.ToJson()) {}

  RequestType type() const { return type_; }
  std::string_view name() const { return name_; }
  // The operation, for kExec.
  std::optional<Op> op() const { return op_; }
  const nlohmann::json& params() const { return params_; }

 private:
  RequestType type_;
  std::string_view name_;
  std::optional<Op> op_;
  nlohmann::json params_;
};

}  // namespace fedra
