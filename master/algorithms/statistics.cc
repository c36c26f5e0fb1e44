#include "master/algorithms/statistics.h"

#include <cmath>
#include <limits>

#include <boost/math/distributions/fisher_f.hpp>
#include <boost/math/distributions/normal.hpp>
#include <boost/math/distributions/students_t.hpp>

namespace fedra {

double TwoSidedTPValue(double t, double df) {
  if (!std::isfinite(t) || !(df > 0)) return std::numeric_limits<double>::quiet_NaN();
  return 2 * boost::math::cdf(boost::math::complement(boost::math::students_t(df), std::abs(t)));
}

double TwoSidedZPValue(double z) {
  if (!std::isfinite(z)) return std::numeric_limits<double>::quiet_NaN();
  return std::erfc(std::abs(z) / std::sqrt(2.0));
}

double FUpperTail(double f, double df1, double df2) {
  if (!std::isfinite(f) || f < 0 || !(df1 > 0) || !(df2 > 0)) return std::numeric_limits<double>::quiet_NaN();
  return boost::math::cdf(boost::math::complement(boost::math::fisher_f(df1, df2), f));
}

}  // namespace fedra
