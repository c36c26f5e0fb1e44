#include "tests/support/random_data.h"

#include <random>

namespace fedra::testing {
namespace {

template <typename Distribution>
Matrix Draw(int rows, int cols, unsigned seed, Distribution d) {
  std::mt19937 rng(seed);
  Matrix m(rows, cols);
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = d(rng);
  return m;
}

}  // namespace

Matrix UniformMatrix(int rows, int cols, unsigned seed, double low, double high) {
  return Draw(rows, cols, seed, std::uniform_real_distribution<double>(low, high));
}

Matrix NormalMatrix(int rows, int cols, unsigned seed, double mean, double sd) {
  return Draw(rows, cols, seed, std::normal_distribution<double>(mean, sd));
}

}  // namespace fedra::testing
