// Every federated operation against the same operation done locally with Eigen on the pooled
// matrix: for 1, 2 and 3 sites, uneven splits, row- and column-partitioned inputs, each also as
// a transposed view of the transpose stored the other way. A new operation costs one row in the
// table below.
#include <doctest/doctest.h>

#include <functional>
#include <random>

#include "master/tensor/federated_ops.h"
#include "tests/support/federated_data.h"
#include "tests/support/in_process_federation.h"
#include "tests/support/temp_dir.h"

namespace fedra {
namespace {

using testing::InProcessSites;
using testing::TempDir;

constexpr double kTolerance = 1e-10;  // relative

Matrix Collect(Federation& fed, const FederatedMatrix& x) {
  Result<Matrix> values = testing::FetchValues(fed, x);
  REQUIRE_MESSAGE(values.ok(), values.status().ToString());
  return *values;
}

Matrix Scalar(double v) { return Matrix::Constant(1, 1, v); }

// What a case needs of its input; other inputs must be refused with kFailedPrecondition.
enum Needs { kAny, kRowPartition, kUntransposedRowPartition };

struct Case {
  const char* name;
  Needs needs;
  std::function<Result<Matrix>(Federation&, const FederatedMatrix&, const Matrix& v_row, const Matrix& v_col)>
      federated;
  std::function<Matrix(const Matrix& x, const Matrix& v_row, const Matrix& v_col)> local;
};

// Wraps a federated result that stays at the sites so the table can compare values.
template <typename F>
auto Stays(F f) {
  return [f](Federation& fed, const FederatedMatrix& x, const Matrix& r, const Matrix& c) -> Result<Matrix> {
    Result<FederatedMatrix> y = f(fed, x, r, c);
    if (!y.ok()) return y.status();
    return Collect(fed, *y);
  };
}

template <typename F>
auto Number(F f) {
  return [f](Federation& fed, const FederatedMatrix& x, const Matrix&, const Matrix&) -> Result<Matrix> {
    Result<double> v = f(fed, x);
    if (!v.ok()) return v.status();
    return Scalar(*v);
  };
}

template <typename F>
auto Local(F f) {
  return [f](Federation& fed, const FederatedMatrix& x, const Matrix&, const Matrix&) -> Result<Matrix> {
    return f(fed, x);
  };
}

const std::vector<Case>& Cases() {
  using F = Federation;
  using X = FederatedMatrix;
  using M = Matrix;
  static const std::vector<Case> cases = {
      {"colSums", kAny, Local([](F& f, const X& x) { return x.ColSums(f); }),
       [](const M& x, const M&, const M&) { return M(x.colwise().sum()); }},
      {"sum", kAny, Number([](F& f, const X& x) { return Sum(f, x); }),
       [](const M& x, const M&, const M&) { return Scalar(x.sum()); }},
      {"mean", kAny, Number([](F& f, const X& x) { return Mean(f, x); }),
       [](const M& x, const M&, const M&) { return Scalar(x.mean()); }},
      {"colMeans", kAny, Local([](F& f, const X& x) { return ColMeans(f, x); }),
       [](const M& x, const M&, const M&) { return M(x.colwise().mean()); }},
      {"colVars", kAny, Local([](F& f, const X& x) { return ColVars(f, x); }),
       [](const M& x, const M&, const M&) {
         M centered = x.rowwise() - x.colwise().mean();
         return M(centered.colwise().squaredNorm() / static_cast<double>(x.rows() - 1));
       }},
      {"min", kAny, Number([](F& f, const X& x) { return Min(f, x); }),
       [](const M& x, const M&, const M&) { return Scalar(x.minCoeff()); }},
      {"max", kAny, Number([](F& f, const X& x) { return Max(f, x); }),
       [](const M& x, const M&, const M&) { return Scalar(x.maxCoeff()); }},
      {"nrow/ncol", kAny,
       [](F&, const X& x, const M&, const M&) -> Result<M> {
         return M(M{{double(x.rows()), double(x.cols())}});
       },
       [](const M& x, const M&, const M&) {
         return M(M{{double(x.rows()), double(x.cols())}});
       }},
      {"t(X) %*% X", kUntransposedRowPartition, Local([](F& f, const X& x) { return x.TransposeSelfProduct(f); }),
       [](const M& x, const M&, const M&) { return M(x.transpose() * x); }},
      {"t(X) %*% V (several columns)", kAny,
       [](F& f, const X& x, const M&, const M& c) { return TransposeMatMul(f, x, M(c.replicate(1, 3) * 0.5)); },
       [](const M& x, const M&, const M& c) { return M(x.transpose() * (c.replicate(1, 3) * 0.5)); }},
      {"t(X) %*% (w * (X %*% v)), fused", kUntransposedRowPartition,
       [](F& f, const X& x, const M& r, const M&) -> Result<M> {
         Result<X> w = RowSums(f, x);
         if (!w.ok()) return w.status();
         return TransposeWeightedProduct(f, x, *w, M(r.transpose()));
       },
       [](const M& x, const M& r, const M&) {
         return M(x.transpose() * (x.rowwise().sum().array() * (x * r.transpose()).array()).matrix());
       }},
      {"X %*% V", kRowPartition,
       Stays([](F& f, const X& x, const M& r, const M&) { return MatMul(f, x, M(r.transpose().replicate(1, 2))); }),
       [](const M& x, const M& r, const M&) { return M(x * r.transpose().replicate(1, 2)); }},
      {"rowSums", kRowPartition, Stays([](F& f, const X& x, const M&, const M&) { return RowSums(f, x); }),
       [](const M& x, const M&, const M&) { return M(x.rowwise().sum()); }},
      {"X * 2", kAny,
       Stays([](F& f, const X& x, const M&, const M&) { return Elementwise(f, x, Op::kMul, Scalar(2)); }),
       [](const M& x, const M&, const M&) { return M(x * 2); }},
      {"10 - X", kAny,
       Stays([](F& f, const X& x, const M&, const M&) { return Elementwise(f, x, Op::kSub, Scalar(10), true); }),
       [](const M& x, const M&, const M&) { return M((10 - x.array()).matrix()); }},
      {"X - colMeans", kAny,
       Stays([](F& f, const X& x, const M& r, const M&) { return Elementwise(f, x, Op::kSub, r); }),
       [](const M& x, const M& r, const M&) { return M(x.rowwise() - r.row(0)); }},
      {"X / column vector", kAny,
       Stays([](F& f, const X& x, const M&, const M& c) { return Elementwise(f, x, Op::kDiv, c); }),
       [](const M& x, const M&, const M& c) { return M(x.array().colwise() / c.col(0).array()); }},
      {"X > 0.5", kAny,
       Stays([](F& f, const X& x, const M&, const M&) { return Elementwise(f, x, Op::kGt, Scalar(0.5)); }),
       [](const M& x, const M&, const M&) { return M((x.array() > 0.5).cast<double>()); }},
      {"X * X", kAny, Stays([](F& f, const X& x, const M&, const M&) { return Elementwise(f, x, Op::kMul, x); }),
       [](const M& x, const M&, const M&) { return M(x.array().square()); }},
      {"exp(X)", kAny, Stays([](F& f, const X& x, const M&, const M&) { return Apply(f, x, Op::kExp); }),
       [](const M& x, const M&, const M&) { return M(x.array().exp()); }},
      {"sigmoid(X)", kAny, Stays([](F& f, const X& x, const M&, const M&) { return Apply(f, x, Op::kSigmoid); }),
       [](const M& x, const M&, const M&) { return M(1 / (1 + (-x.array()).exp())); }},
      {"sqrt(abs(X))", kAny, Stays([](F& f, const X& x, const M&, const M&) -> Result<X> {
         Result<X> a = Apply(f, x, Op::kAbs);
         if (!a.ok()) return a.status();
         return Apply(f, *a, Op::kSqrt);
       }),
       [](const M& x, const M&, const M&) { return M(x.array().abs().sqrt()); }},
      {"round(X * 3)", kAny, Stays([](F& f, const X& x, const M&, const M&) -> Result<X> {
         Result<X> a = Elementwise(f, x, Op::kMul, Scalar(3));
         if (!a.ok()) return a.status();
         return Apply(f, *a, Op::kRound);
       }),
       [](const M& x, const M&, const M&) { return M((x.array() * 3).round()); }},
      {"X[, c(2, 0)]", kUntransposedRowPartition, Stays([](F& f, const X& x, const M&, const M&) {
         return x.SelectColumns(f, {2, 0});
       }),
       [](const M& x, const M&, const M&) {
         M out(x.rows(), 2);
         out << x.col(2), x.col(0);
         return out;
       }},
  };
  return cases;
}

bool Near(const Matrix& a, const Matrix& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() &&
         ((a - b).cwiseAbs().array() <= kTolerance * b.cwiseAbs().array().max(1.0)).all();
}

}  // namespace

TEST_CASE("federated operations equal local Eigen on the pooled matrix") {
  TempDir dir;
  InProcessSites local(dir.path(), {"a", "b", "c"});
  local.StartAll();
  auto fed = local.Connect();
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> dist(0.1, 3.0);  // positive: log/sqrt/div stay finite
  const int rows = 157, cols = 7;
  Matrix pooled(rows, cols);
  for (Eigen::Index i = 0; i < pooled.size(); ++i) pooled.data()[i] = dist(rng);
  Matrix v_row(1, cols), v_col(rows, 1);
  for (Eigen::Index i = 0; i < cols; ++i) v_row(0, i) = dist(rng);
  for (Eigen::Index i = 0; i < rows; ++i) v_col(i, 0) = dist(rng);
  std::vector<std::string> names;
  for (int j = 0; j < cols; ++j) names.push_back("x" + std::to_string(j));

  std::vector<std::string> row_names;  // the columns of the stored transpose
  for (int i = 0; i < rows; ++i) row_names.push_back("r" + std::to_string(i));

  for (int n_sites = 1; n_sites <= 3; ++n_sites) {
    for (Partitioning partitioning : {Partitioning::kRow, Partitioning::kColumn}) {
      const bool by_row = partitioning == Partitioning::kRow;
      // Uneven splits: roughly 10%, 30%, 60% of the rows (or columns).
      const int extent = by_row ? rows : cols;
      std::vector<int> sizes;
      if (n_sites == 1) sizes = {extent};
      if (n_sites == 2) sizes = {by_row ? 23 : 2, extent - (by_row ? 23 : 2)};
      if (n_sites == 3) sizes = {by_row ? 15 : 1, by_row ? 48 : 2, extent - (by_row ? 63 : 3)};
      for (bool transposed : {false, true}) {
        // The transposed case stores t(pooled) partitioned the other way and views it as pooled.
        std::vector<std::pair<std::string, Matrix>> parts;
        for (int s = 0, at = 0; s < n_sites; at += sizes[s], ++s) {
          Matrix block = by_row ? Matrix(pooled.middleRows(at, sizes[s])) : Matrix(pooled.middleCols(at, sizes[s]));
          if (transposed) block.transposeInPlace();
          parts.emplace_back(local.sites()[s], std::move(block));
        }
        const Partitioning stored = by_row == transposed ? Partitioning::kColumn : Partitioning::kRow;
        Result<FederatedMatrix> x = FederatedMatrix::Distribute(*fed, parts, transposed ? row_names : names,
                                                                transposed ? stored : partitioning);
        REQUIRE_MESSAGE(x.ok(), x.status().ToString());
        if (transposed) *x = x->Transposed();
        REQUIRE(x->rows() == rows);
        REQUIRE(x->map().partitioning() == partitioning);
        for (const Case& c : Cases()) {
          const std::string name = c.name;
          CAPTURE(name);
          CAPTURE(n_sites);
          CAPTURE(by_row);
          CAPTURE(transposed);
          Result<Matrix> got = c.federated(*fed, *x, v_row, v_col);
          if ((c.needs != kAny && !by_row) || (c.needs == kUntransposedRowPartition && transposed)) {
            CHECK_MESSAGE(got.status().code() == StatusCode::kFailedPrecondition, got.status().ToString());
            continue;
          }
          REQUIRE_MESSAGE(got.ok(), got.status().ToString());
          const Matrix want = c.local(pooled, v_row, v_col);
          CHECK_MESSAGE(Near(*got, want), "got\n", *got, "\nwant\n", want);
        }
      }
    }
  }
  // Every matrix above, results and intermediates included, is gone: the sites hold nothing.
  REQUIRE(fed->FlushReleases().ok());
  auto catalogs = fed->CallAll({Request::ListCatalog()});
  REQUIRE(FirstError(catalogs).ok());
  for (const auto& [site, responses] : catalogs) CHECK((*responses)[0].meta["variables"] == 0);
}

}  // namespace fedra
