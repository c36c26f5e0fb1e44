// Narrowing, widening and scaled sums of model-sized vectors: each value converts as static_cast
// would, tails too.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "common/float_conversion.h"

namespace fedra {

TEST_CASE("vectors narrow and widen value by value as a cast would, whatever their length") {
  std::mt19937 rng(3);
  std::normal_distribution<double> normal(0, 1e3);
  for (const size_t n : {size_t{0}, size_t{1}, size_t{3}, size_t{4}, size_t{5}, size_t{1027}}) {
    CAPTURE(n);
    std::vector<double> wide(n);
    for (double& v : wide) v = normal(rng);
    if (n >= 4) {
      wide[0] = std::numeric_limits<double>::infinity();
      wide[1] = -0.0;
      wide[2] = 1e300;                     // beyond float: infinity, as a cast gives
      wide[3] = 1 + std::ldexp(1.0, -30);  // rounds to the nearest float
    }
    std::vector<float> narrow(n, 7.0f);
    NarrowToFloat(wide, narrow.data());
    std::vector<double> back(n, 7.0);
    WidenToDouble(narrow, back.data());
    std::vector<float> scaled(n);
    NarrowToFloat(wide, scaled.data(), 0.25);
    std::vector<double> back_scaled(n);
    WidenToDouble(narrow, back_scaled.data(), -3.5);
    std::vector<double> sums(wide);
    AddScaled(narrow, -0.3, sums.data());
    std::vector<double> from_zero(n, -0.0);  // as the weighted mean starts
    AddScaled(narrow, 0.5, from_zero.data());
    for (size_t i = 0; i < n; ++i) {
      CAPTURE(i);
      CHECK(narrow[i] == static_cast<float>(wide[i]));
      CHECK(std::signbit(narrow[i]) == std::signbit(wide[i]));
      CHECK(back[i] == static_cast<double>(narrow[i]));
      CHECK(scaled[i] == static_cast<float>(wide[i] * 0.25));
      CHECK(back_scaled[i] == static_cast<double>(narrow[i]) * -3.5);
      const double sum = wide[i] + -0.3 * static_cast<double>(narrow[i]);
      CHECK((sums[i] == sum || (std::isnan(sums[i]) && std::isnan(sum))));
      CHECK(from_zero[i] == 0.5 * static_cast<double>(narrow[i]));
      CHECK(std::signbit(from_zero[i]) == std::signbit(narrow[i]));
    }
  }
  Eigen::VectorXd v = Eigen::VectorXd::LinSpaced(11, -5, 5);
  CHECK(Narrowed(v) == v.cast<float>());
  CHECK(Narrowed(v.segment(3, 6)) == v.segment(3, 6).cast<float>());  // a view, not a copy
}

}  // namespace fedra
