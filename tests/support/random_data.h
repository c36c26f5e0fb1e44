// Seeded test data.
#pragma once

#include "common/matrix.h"

namespace fedra::testing {

// rows x cols of values drawn uniformly from [low, high) with std::mt19937(seed).
Matrix UniformMatrix(int rows, int cols, unsigned seed, double low = 0, double high = 1);

// rows x cols of values drawn from a normal distribution with std::mt19937(seed).
Matrix NormalMatrix(int rows, int cols, unsigned seed, double mean = 0, double sd = 1);

}  // namespace fedra::testing
