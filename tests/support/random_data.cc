#include "tests/support/random_data.h"

#include <random>

namespace fedra::testing {

Matrix UniformMatrix(int rows, int cols, unsigned seed, double low, double high) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(low, high);
  Matrix m(rows, cols);
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = u(rng);
  return m;
}

}  // namespace fedra::testing
