// The site's OpenBLAS products against Eigen's, on both sides of the size where they switch, with
// ragged shapes (odd rows, one column, more columns than rows), so that a wrong stride, transpose
// or triangle shows.
#include <doctest/doctest.h>

#include <cmath>

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

TEST_CASE("FloatProduct agrees with the product in double, through OpenBLAS and without, every transpose") {
  struct Shape {
    Eigen::Index m, n, k;
  };
  // OpenBLAS takes products whose every side is 32 or more; 31 and 1 stay with Eigen, and up to 4
  // rows of an untransposed left side go one by one.
  for (const Shape& s : {Shape{33, 40, 50}, Shape{128, 784, 32}, Shape{31, 64, 64}, Shape{1, 988, 1000},
                         Shape{2, 988, 1000}, Shape{4, 70, 33}, Shape{5, 40, 50}, Shape{64, 64, 1}, Shape{40, 1, 33}}) {
    for (const bool ta : {false, true}) {
      for (const bool tb : {false, true}) {
        CAPTURE(s.m);
        CAPTURE(s.n);
        CAPTURE(s.k);
        CAPTURE(ta);
        CAPTURE(tb);
        // Blocks of larger matrices: leading dimensions larger than the row counts.
        const Eigen::Index ar = ta ? s.k : s.m, ac = ta ? s.m : s.k, br = tb ? s.n : s.k, bc = tb ? s.k : s.n;
        const Eigen::MatrixXf big_a = Eigen::MatrixXf::Random(ar + 3, ac + 1);
        const Eigen::MatrixXf big_b = Eigen::MatrixXf::Random(br + 2, bc + 1);
        const auto a = big_a.block(2, 1, ar, ac);
        const auto b = big_b.block(1, 0, br, bc);
        const Matrix ad = a.cast<double>(), bd = b.cast<double>();
        const Matrix want = (ta ? Matrix(ad.transpose()) : ad) * (tb ? Matrix(bd.transpose()) : bd);
        // Written into the middle of a larger matrix full of NaN, as the trainer writes a layer's
        // gradient into the whole model's: nothing outside is touched, nothing inside is read.
        Eigen::MatrixXf big_out = Eigen::MatrixXf::Constant(s.m + 4, s.n + 2, std::nanf(""));
        FloatProduct(a, ta, b, tb, big_out.block(3, 1, s.m, s.n));
        // Float products of k values in [-1, 1]: rounding grows with k; 1e-6 * k is generous.
        const Eigen::MatrixXf out = big_out.block(3, 1, s.m, s.n);
        CHECK((out.cast<double>() - want).cwiseAbs().maxCoeff() <= 1e-6 * static_cast<double>(s.k));
        big_out.block(3, 1, s.m, s.n).setConstant(std::nanf(""));
        CHECK(big_out.array().isNaN().all());
      }
    }
  }
}

}  // namespace fedra
