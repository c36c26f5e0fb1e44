#include "common/float_conversion.h"

#include <cstring>

namespace fedra {
namespace {

typedef double Doubles __attribute__((vector_size(32)));
typedef float Floats __attribute__((vector_size(16)));
constexpr size_t kLanes = 4;

}  // namespace

void NarrowToFloat(std::span<const double> from, float* to, double scale) {
  const Doubles scales = {scale, scale, scale, scale};
  size_t i = 0;
  for (; i + kLanes <= from.size(); i += kLanes) {
    Doubles d;
    std::memcpy(&d, from.data() + i, sizeof d);
    const Floats f = __builtin_convertvector(d * scales, Floats);
    std::memcpy(to + i, &f, sizeof f);
  }
  for (; i < from.size(); ++i) to[i] = static_cast<float>(from[i] * scale);
}

void WidenToDouble(std::span<const float> from, double* to, double scale) {
  const Doubles scales = {scale, scale, scale, scale};
  size_t i = 0;
  for (; i + kLanes <= from.size(); i += kLanes) {
    Floats f;
    std::memcpy(&f, from.data() + i, sizeof f);
    const Doubles d = __builtin_convertvector(f, Doubles) * scales;
    std::memcpy(to + i, &d, sizeof d);
  }
  for (; i < from.size(); ++i) to[i] = static_cast<double>(from[i]) * scale;
}

void AddScaled(std::span<const float> from, double scale, double* to) {
  const Doubles scales = {scale, scale, scale, scale};
  size_t i = 0;
  for (; i + kLanes <= from.size(); i += kLanes) {
    Floats f;
    Doubles d;
    std::memcpy(&f, from.data() + i, sizeof f);
    std::memcpy(&d, to + i, sizeof d);
    d += __builtin_convertvector(f, Doubles) * scales;
    std::memcpy(to + i, &d, sizeof d);
  }
  for (; i < from.size(); ++i) to[i] += scale * from[i];
}

Eigen::VectorXf Narrowed(const Eigen::Ref<const Eigen::VectorXd>& v) {
  Eigen::VectorXf out(v.size());
  NarrowToFloat(std::span(v.data(), static_cast<size_t>(v.size())), out.data());
  return out;
}

}  // namespace fedra
