// The site's OpenBLAS products against Eigen's, on both sides of the size where they switch, with
// ragged shapes (odd rows, one column, more columns than rows), so that a wrong stride, transpose
// or triangle shows.
#include <doctest/doctest.h>

#include "site-agent/blas.h"

namespace fedra {
namespace {

// Eigen's own, computed the plain way.
Matrix EigenCross(const Matrix& x, const Matrix& y) { return x.transpose() * y; }

double RelativeError(const Matrix& got, const Matrix& want) {
  return (got - want).cwiseAbs().maxCoeff() / std::max(1.0, want.cwiseAbs().maxCoeff());
}

}  // namespace

TEST_CASE("Gram and CrossProduct agree with Eigen, through OpenBLAS and without") {
  struct Shape {
    Eigen::Index rows, cols, other;
  };
  // 65,536 values is where OpenBLAS takes over; 10,001 x 7 and 1,001 x 131 are above it.
  for (const Shape& s :
       {Shape{50, 4, 3}, Shape{10'001, 7, 1}, Shape{10'001, 7, 5}, Shape{1'001, 131, 2}, Shape{70'000, 1, 1}}) {
    CAPTURE(s.rows);
    CAPTURE(s.cols);
    const Matrix x = Matrix::Random(s.rows, s.cols) * 100;
    const Matrix y = Matrix::Random(s.rows, s.other);
    const Matrix gram = Gram(x);
    CHECK(RelativeError(gram, EigenCross(x, x)) < 1e-12);
    CHECK(gram == gram.transpose());  // both triangles, exactly
    CHECK(RelativeError(CrossProduct(x, y), EigenCross(x, y)) < 1e-12);
  }
  CHECK(Gram(Matrix(0, 3)).isZero());
  CHECK(Gram(Matrix(0, 3)).rows() == 3);
  CHECK(Gram(Matrix(5, 0)).size() == 0);
  CHECK(CrossProduct(Matrix::Random(70'000, 2), Matrix(70'000, 0)).cols() == 0);
}

}  // namespace fedra
