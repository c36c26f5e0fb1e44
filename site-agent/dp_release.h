// Calibrated noise for dp-aggregate releases: the Gaussian mechanism, with the sensitivity worked
// out by the site from the bounds its data owner declared (values are clipped to them when read),
// never from anything the master says.
#pragma once

#include <span>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/matrix.h"
#include "common/status.h"
#include "federated/operations.h"
#include "federated/privacy.h"

namespace fedra {

// The L2 sensitivity of an aggregate of the given form: how far the released value can move when
// one row is replaced by any other within `x`'s bounds (and `y`'s, the second input of a cross
// product; empty: x with itself). kClusterSums needs the stacked centres and k.
Result<double> ReleaseSensitivity(DpForm form, const std::vector<Interval>& x, const std::vector<Interval>& y,
                                  const Matrix* centers, int64_t k);

// Adds independent N(0, sigma^2) noise to every entry, or, when `symmetric`, to the upper
// triangle and mirrors it. The seed comes from OpenSSL's random generator.
void AddGaussianNoise(Matrix* value, double sigma, bool symmetric);

}  // namespace fedra

namespace fedra {

// The bounds of a row-level result of operation `op` from dp-aggregate rows: for the linear
// operations allowed on them (columns, + - * / by broadcast values, + - of the same rows, %*%,
// rowSums, splitRows). `inputs` are the values, `bounds` each input's column bounds (empty for
// inputs that are not dp-aggregate rows). kFailedPrecondition for any other operation.
Result<std::vector<Interval>> PropagateBounds(Op op, std::span<const Matrix* const> inputs,
                                              std::span<const std::vector<Interval>* const> bounds,
                                              const nlohmann::json& params);

}  // namespace fedra
