// Model-sized vectors cross between double (how sites and the master hold values) and float (how
// models train and travel) several times a round. Eigen 3.4's cast<>() converts one value an
// instruction, and GCC 12 at -O2 vectorises only loops that need no scalar remainder, so these
// convert four values at a time with GCC's vector extension.
#pragma once

#include <span>

#include <Eigen/Core>

namespace fedra {

// to[i] = float(from[i] * scale); `to` holds from.size() values.
void NarrowToFloat(std::span<const double> from, float* to, double scale = 1);
// to[i] = double(from[i]) * scale; `to` holds from.size() values.
void WidenToDouble(std::span<const float> from, double* to, double scale = 1);
// to[i] += scale * double(from[i]); `to` holds from.size() values.
void AddScaled(std::span<const float> from, double scale, double* to);

// `v` as floats.
Eigen::VectorXf Narrowed(const Eigen::Ref<const Eigen::VectorXd>& v);

}  // namespace fedra
