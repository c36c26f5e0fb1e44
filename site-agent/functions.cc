#include "site-agent/functions.h"

#include <array>

namespace fedra {
namespace {

// Per-column count, sum and sum of squares: everything the master needs for means and
// variances, as a 3 x ncol aggregate.
Result<FunctionOutput> Moments(std::span<const Matrix* const> inputs, const nlohmann::json&) {
  const Matrix& x = *inputs[0];
  FunctionOutput out;
  out.value.resize(3, x.cols());
  out.value.row(0).setConstant(static_cast<double>(x.rows()));
  out.value.row(1) = x.colwise().sum();
  out.value.row(2) = x.colwise().squaredNorm();
  return out;
}

constexpr std::array kFunctions = {
    FunctionInfo{"moments", 1, true, &Moments},
};

}  // namespace

const FunctionInfo* FindFunction(std::string_view name) {
  for (const FunctionInfo& f : kFunctions) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

}  // namespace fedra
