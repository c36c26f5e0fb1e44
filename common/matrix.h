// The dense matrix type every fedra module shares, and its place in a byte buffer.
#pragma once

#include <Eigen/Core>

namespace fedra {

// Column-major doubles, Eigen's default: what the kernels and the wire codec use.
using Matrix = Eigen::MatrixXd;

// Bytes a matrix's values occupy.
inline size_t MatrixBytes(const Matrix& m) { return static_cast<size_t>(m.size()) * sizeof(double); }

}  // namespace fedra
