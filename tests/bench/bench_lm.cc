// Federated lm and logreg on three loopback sites versus local lm on the pooled matrix, in
// the same run: rows x cols (default 1,000,000 x 100) of synthetic regression data on raw,
// unscaled columns (scales from 0.01 to 100, means away from zero), as real tables have. The data
// is put at the sites first (not timed); the federated fit (one step: t(Z) %*% Z and colSums at
// every site, solve at the master) is timed against the same normal-equations solve done
// locally, twice: with Eigen on one core, and with OpenBLAS's dsyrk on its threads (all cores
// unless OPENBLAS_NUM_THREADS says otherwise), the kernel numpy's Z.T @ Z calls. Then: lmCG with
// its defaults (iterations and seconds to converge, next to the direct solve) and seconds per
// iteration; logistic regression to convergence with Newton's method and with L-BFGS (on a 0/1
// label drawn from a logistic model); seconds per k-means iteration (k = 10). The three site
// processes share the machine's cores; their t(Z) %*% Z runs through OpenBLAS too.
#include <cblas.h>
#include <Eigen/Dense>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>

#include "master/algorithms/kmeans.h"
#include "master/algorithms/lm.h"
#include "master/algorithms/logreg.h"
#include "tests/support/local_federation.h"
#include "tests/support/temp_dir.h"

namespace {
using Clock = std::chrono::steady_clock;
double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }
}  // namespace

int main(int argc, char** argv) {
  using namespace fedra;
  const Eigen::Index rows = argc > 1 ? std::atol(argv[1]) : 1'000'000;
  const Eigen::Index cols = argc > 2 ? std::atol(argv[2]) : 100;
  std::printf("lm benchmark: %ld x %ld, three sites on loopback\n", static_cast<long>(rows), static_cast<long>(cols));

  // Z = [X y], y = X w + noise, with column j on the scale 10^(j % 5 - 2) around 3 times that.
  // `label` is a 0/1 column drawn from a logistic model of the standardised columns.
  Matrix z(rows, cols + 1);
  Eigen::VectorXd label(rows);
  {
    std::mt19937 rng(3);
    std::normal_distribution<double> dist;
    std::uniform_real_distribution<double> uniform;
    Eigen::VectorXd scale(cols);
    for (Eigen::Index j = 0; j < cols; ++j) scale(j) = std::pow(10.0, static_cast<double>(j % 5) - 2);
    for (Eigen::Index j = 0; j < cols; ++j) {
      for (Eigen::Index i = 0; i < rows; ++i) z(i, j) = scale(j) * (3 + dist(rng));
    }
    const Eigen::VectorXd w = Eigen::VectorXd::LinSpaced(cols, -1, 1);
    const Eigen::VectorXd standard_score =
        ((z.leftCols(cols).rowwise() - (3 * scale).transpose()) * scale.cwiseInverse().asDiagonal() * w) /
        std::sqrt(static_cast<double>(cols) / 3);
    z.col(cols) = z.leftCols(cols) * w.cwiseQuotient(scale);
    for (Eigen::Index i = 0; i < rows; ++i) {
      z(i, cols) += 0.1 * dist(rng);
      label(i) = uniform(rng) < 1 / (1 + std::exp(-2 * standard_score(i)));
    }
  }

  // Local references: the same normal equations on the pooled matrix, built the way the sites
  // build theirs (one symmetric rank update of t(Z) %*% Z, column sums for the intercept), in
  // this process; the lower triangle of t(Z) %*% Z comes from `gram`, the rest is the same.
  const auto solve_pooled = [&](const auto& gram) {
    Matrix g = Matrix::Zero(cols + 1, cols + 1);
    gram(g);
    g.triangularView<Eigen::StrictlyUpper>() = g.transpose();
    const Eigen::RowVectorXd sums = z.colwise().sum();
    Matrix a(cols + 1, cols + 1);
    a(0, 0) = static_cast<double>(rows);
    a.block(0, 1, 1, cols) = sums.head(cols);
    a.block(1, 0, cols, 1) = sums.head(cols).transpose();
    a.bottomRightCorner(cols, cols) = g.topLeftCorner(cols, cols);
    Eigen::VectorXd b(cols + 1);
    b(0) = sums(cols);
    b.tail(cols) = g.col(cols).head(cols);
    return Eigen::VectorXd(a.ldlt().solve(b));
  };
  // Eigen, one core, best of 3.
  double local_s = 1e30;
  Eigen::VectorXd local;
  for (int rep = 0; rep < 3; ++rep) {
    auto t0 = Clock::now();
    local = solve_pooled([&](Matrix& g) { g.selfadjointView<Eigen::Lower>().rankUpdate(z.transpose()); });
    local_s = std::min(local_s, Since(t0));
  }
  // OpenBLAS's dsyrk on its threads, best of 3.
  const int blas_threads = openblas_get_num_threads();
  double blas_s = 1e30;
  Eigen::VectorXd blas;
  for (int rep = 0; rep < 3; ++rep) {
    auto t0 = Clock::now();
    blas = solve_pooled([&](Matrix& g) {
      cblas_dsyrk(CblasColMajor, CblasLower, CblasTrans, static_cast<blasint>(z.cols()), static_cast<blasint>(z.rows()),
                  1.0, z.data(), static_cast<blasint>(z.rows()), 0.0, g.data(), static_cast<blasint>(g.rows()));
    });
    blas_s = std::min(blas_s, Since(t0));
  }
  const double blas_diff = (blas - local).cwiseAbs().maxCoeff();
  Clock::time_point start;

  testing::TempDir dir("fedra-bench-lm");
  testing::LocalFederation sites(dir.path(), {"a", "b", "c"});
  for (const auto& s : sites.sites()) {
    sites.EditConfig(s, [](nlohmann::json& c) {
      c["limits"]["max_message_bytes"] = int64_t{4} << 30;
      c["limits"]["memory_budget_bytes"] = int64_t{8} << 30;
    });
  }
  sites.StartAll();
  auto fed = sites.Connect(std::chrono::seconds(600));
  std::vector<std::string> names;
  for (Eigen::Index j = 0; j <= cols; ++j) names.push_back("c" + std::to_string(j));
  const Eigen::Index split[3] = {rows / 5, rows / 3, rows - rows / 5 - rows / 3};
  std::vector<std::pair<std::string, Matrix>> parts;
  for (int s = 0, row = 0; s < 3; row += split[s], ++s)
    parts.emplace_back(sites.sites()[s], z.middleRows(row, split[s]));
  Result<FederatedMatrix> data = FederatedMatrix::Distribute(*fed, std::move(parts), names);
  if (!data.ok()) {
    std::fprintf(stderr, "%s\n", data.status().ToString().c_str());
    return 1;
  }
  std::vector<int64_t> features;
  for (int64_t j = 0; j < cols; ++j) features.push_back(j);

  double fed_s = 1e30;
  Result<LmModel> model = Status(StatusCode::kInternal, "not run");
  for (int rep = 0; rep < 3; ++rep) {
    start = Clock::now();
    model = FitLm(*fed, *data, features, cols, LmOptions{});
    fed_s = std::min(fed_s, Since(start));
    if (!model.ok()) {
      std::fprintf(stderr, "%s\n", model.status().ToString().c_str());
      return 1;
    }
  }
  const double diff = (model->coefficients - local).cwiseAbs().maxCoeff();
  std::printf("local Eigen lm (pooled):  %.3f s   one core\n", local_s);
  std::printf("local BLAS lm (pooled):   %.3f s   OpenBLAS, %d threads   max |coef diff| from Eigen's %.1e\n", blas_s,
              blas_threads, blas_diff);
  std::printf(
      "federated lm (3 sites):   %.3f s   ratio federated/Eigen %.2f   ratio federated/BLAS %.2f   max |coef diff| "
      "%.1e\n",
      fed_s, fed_s / local_s, fed_s / blas_s, diff);

  // lmCG with its defaults, to convergence.
  {
    const auto t0 = Clock::now();
    Result<LmModel> cg = FitLm(*fed, *data, features, cols, LmOptions{.conjugate_gradient = true});
    const double cg_s = Since(t0);
    if (!cg.ok()) {
      std::fprintf(stderr, "%s\n", cg.status().ToString().c_str());
      return 1;
    }
    const double rel = ((cg->coefficients - model->coefficients).cwiseAbs().array() /
                        model->coefficients.cwiseAbs().array().max(1e-12))
                           .maxCoeff();
    std::printf(
        "lmCG (defaults):          %.3f s   ratio lmCG/lm %.2f   %d iterations%s   max relative coef diff %.1e\n", cg_s,
        cg_s / fed_s, cg->iterations, cg->converged ? "" : " (not converged)", rel);
  }
  // Seconds per lmCG iteration: the difference between 6 and 1 iterations, over 5.
  auto time_cg = [&](int iterations) {
    const auto t0 = Clock::now();
    Result<LmModel> cg = FitLm(*fed, *data, features, cols,
                               LmOptions{.conjugate_gradient = true, .max_iterations = iterations, .tolerance = 0});
    return cg.ok() ? Since(t0) : -1.0;
  };
  const double one = time_cg(1), six = time_cg(6);
  if (one < 0 || six < 0) return 1;
  std::printf("lmCG: %.3f s per iteration (one batch per site); setup, column selection and summary %.3f s\n",
              (six - one) / 5, one - (six - one) / 5);

  // Logistic regression on [X, label]: the label column replaces y at the sites (the lm data is
  // released first, so the sites hold one copy).
  data = FailedPrecondition("released");
  std::vector<std::pair<std::string, Matrix>> labelled;
  for (int s = 0, row = 0; s < 3; row += split[s], ++s) {
    Matrix part = z.middleRows(row, split[s]);
    part.col(cols) = label.segment(row, split[s]);
    labelled.emplace_back(sites.sites()[s], std::move(part));
  }
  Result<FederatedMatrix> classes = FederatedMatrix::Distribute(*fed, std::move(labelled), names);
  if (!classes.ok()) {
    std::fprintf(stderr, "%s\n", classes.status().ToString().c_str());
    return 1;
  }
  Matrix newton_weights;
  double newton_s = 0;
  for (LogRegMethod method : {LogRegMethod::kNewton, LogRegMethod::kLbfgs}) {
    const auto t0 = Clock::now();
    Result<LogRegModel> m = FitLogReg(*fed, *classes, features, cols, LogRegOptions{.method = method});
    const double s = Since(t0);
    if (!m.ok()) {
      std::fprintf(stderr, "%s\n", m.status().ToString().c_str());
      return 1;
    }
    if (method == LogRegMethod::kNewton) {
      newton_weights = m->weights;
      newton_s = s;
      std::printf("logreg, Newton:           %.3f s   %d iterations%s\n", s, m->iterations,
                  m->converged ? "" : " (not converged)");
    } else {
      const double rel =
          ((m->weights - newton_weights).cwiseAbs().array() / newton_weights.cwiseAbs().array().max(1e-12)).maxCoeff();
      std::printf(
          "logreg, L-BFGS:           %.3f s   %d iterations%s   ratio L-BFGS/Newton %.2f   max relative "
          "coef diff %.1e\n",
          s, m->iterations, m->converged ? "" : " (not converged)", s / newton_s, rel);
    }
  }

  // k-means, k = 10, from fixed centres so every run does the same work.
  Result<FederatedMatrix> x = classes->SelectColumns(*fed, features);
  if (!x.ok()) return 1;
  classes = FailedPrecondition("released");
  KMeansOptions km;
  km.k = 10;
  km.tolerance = 0;
  km.initial_centers = Matrix(z.topRows(10).leftCols(cols));
  auto time_kmeans = [&](int iterations) {
    km.max_iterations = iterations;
    const auto t0 = Clock::now();
    return FitKMeans(*fed, *x, km).ok() ? Since(t0) : -1.0;
  };
  const double km_one = time_kmeans(1), km_six = time_kmeans(6);
  if (km_one < 0 || km_six < 0) return 1;
  std::printf("kmeans (k = 10): %.3f s per iteration (one batch per site)\n", (km_six - km_one) / 5);
  return 0;
}
