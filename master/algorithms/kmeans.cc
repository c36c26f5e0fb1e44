#include "master/algorithms/kmeans.h"

#include <limits>
#include <random>

#include "common/logging.h"
#include "federated/kmeans_seeding.h"

namespace fedra {
namespace {

using PartOp = FederatedMatrix::PartOp;

// Micro-clusters each site contributes per wanted cluster: enough for k-means++ to choose well.
constexpr int kSeedsPerCluster = 8;
constexpr int kSeedLloydSteps = 10;

// Weighted k-means++ over the sites' micro-cluster means, refined by a few weighted Lloyd steps.
Matrix SeedCenters(const Matrix& means, const Eigen::VectorXd& weights, int k, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const Eigen::Index n = means.rows();
  Matrix centers = KMeansPlusPlus(means, weights, k, rng);
  for (int step = 0; step < kSeedLloydSteps; ++step) {
    Matrix sums = Matrix::Zero(k, means.cols());
    Eigen::VectorXd mass = Eigen::VectorXd::Zero(k);
    for (Eigen::Index i = 0; i < n; ++i) {
      Eigen::Index best;
      (centers.rowwise() - means.row(i)).rowwise().squaredNorm().minCoeff(&best);
      sums.row(best) += weights(i) * means.row(i);
      mass(best) += weights(i);
    }
    for (int c = 0; c < k; ++c) {
      if (mass(c) > 0) centers.row(c) = sums.row(c) / mass(c);
    }
  }
  return centers;
}

// Secure-aggregate data shows the master no site's micro-clusters, only secure sums: each
// restart starts from k random draws around the pooled column means, a column's spread apart.
Result<std::vector<Matrix>> SecureInitialCenters(Federation& fed, const FederatedMatrix& x,
                                                 const KMeansOptions& options) {
  FEDRA_ASSIGN_OR_RETURN(std::vector<Matrix> moments,
                         x.SumOverParts(fed, {PartOp{Op::kColSums}, PartOp{Op::kColSumSq}}));
  const double n = static_cast<double>(x.rows());
  const Eigen::RowVectorXd mean = moments[0].row(0) / n;
  const Eigen::RowVectorXd sd = (moments[1].row(0) / n - mean.cwiseProduct(mean)).cwiseMax(0).cwiseSqrt();
  std::vector<Matrix> starts;
  for (int r = 0; r < options.restarts; ++r) {
    std::mt19937_64 rng(options.seed + static_cast<uint64_t>(r));
    std::normal_distribution<double> normal;
    Matrix centers(options.k, x.cols());
    for (int c = 0; c < options.k; ++c) {
      for (Eigen::Index j = 0; j < x.cols(); ++j) centers(c, j) = mean(j) + sd(j) * normal(rng);
    }
    starts.push_back(std::move(centers));
  }
  return starts;
}

// Initial centres for every restart, from one seeding step at the sites.
Result<std::vector<Matrix>> InitialCenters(Federation& fed, const FederatedMatrix& x, const KMeansOptions& options) {
  if (options.initial_centers) return std::vector<Matrix>{*options.initial_centers};
  if (x.secure_sums()) return SecureInitialCenters(fed, x, options);
  const KMeansSeedsParams seeds{.groups = kSeedsPerCluster * options.k, .seed = options.seed};
  FEDRA_ASSIGN_OR_RETURN(auto per_part, x.RunOnParts(fed, {PartOp{seeds}}));
  Eigen::Index total = 0;
  for (const Matrix& m : per_part[0]) total += m.rows();
  Matrix means(total, x.cols());
  Eigen::VectorXd weights(total);
  Eigen::Index at = 0;
  for (const Matrix& m : per_part[0]) {
    if (m.cols() != x.cols() + 1) return DataLoss("kmeans: a site returned seeds of the wrong shape");
    means.middleRows(at, m.rows()) = m.leftCols(x.cols());
    weights.segment(at, m.rows()) = m.col(x.cols());
    at += m.rows();
  }
  if (total < options.k) {
    return FailedPrecondition("kmeans: the sites' data forms only " + std::to_string(total) +
                              " groups large enough to share, fewer than k = " + std::to_string(options.k));
  }
  std::vector<Matrix> starts;
  for (int r = 0; r < options.restarts; ++r) starts.push_back(SeedCenters(means, weights, options.k, options.seed + r));
  return starts;
}

// One Lloyd step for the stacked centres of several restarts: per centre, the sums, counts and
// squared distances over all sites ((R k) x (d + 2)).
Result<Matrix> Step(Federation& fed, const FederatedMatrix& x, const Matrix& stacked, int k) {
  const PartOp op{KMeansStepParams{.k = k}, nullptr, true};
  FEDRA_ASSIGN_OR_RETURN(std::vector<Matrix> sums, x.SumOverParts(fed, {op}, &stacked));
  if (sums[0].rows() != stacked.rows() || sums[0].cols() != x.cols() + 2) {
    return DataLoss("kmeans: the sites returned statistics of the wrong shape");
  }
  return std::move(sums[0]);
}

Status CheckOptions(const FederatedMatrix& x, const KMeansOptions& o) {
  if (o.k < 1) return InvalidArgument("kmeans: k must be at least 1");
  if (o.k > x.rows()) {
    return InvalidArgument("kmeans: k = " + std::to_string(o.k) + " exceeds the " + std::to_string(x.rows()) + " rows");
  }
  if (o.restarts < 1) return InvalidArgument("kmeans: restarts must be at least 1");
  if (o.max_iterations < 1) return InvalidArgument("kmeans: max_iterations must be at least 1");
  if (!(o.tolerance >= 0)) return InvalidArgument("kmeans: tolerance must be >= 0");
  if (o.initial_centers && (o.initial_centers->rows() != o.k || o.initial_centers->cols() != x.cols())) {
    return InvalidArgument("kmeans: initial centres must be k x ncol = " + std::to_string(o.k) + "x" +
                           std::to_string(x.cols()));
  }
  return Status::Ok();
}

}  // namespace

Result<KMeansModel> FitKMeans(Federation& fed, const FederatedMatrix& x, const KMeansOptions& options) {
  FEDRA_RETURN_IF_ERROR(CheckOptions(x, options));
  FEDRA_ASSIGN_OR_RETURN(std::vector<Matrix> centers, InitialCenters(fed, x, options));
  const int k = options.k;
  const Eigen::Index d = x.cols();
  const auto restarts = static_cast<int>(centers.size());
  std::vector<KMeansModel> runs(static_cast<size_t>(restarts));
  std::vector<int> active(static_cast<size_t>(restarts));
  for (int r = 0; r < restarts; ++r) active[static_cast<size_t>(r)] = r;

  for (int iteration = 1; !active.empty(); ++iteration) {
    Matrix stacked(static_cast<Eigen::Index>(active.size()) * k, d);
    for (size_t a = 0; a < active.size(); ++a)
      stacked.middleRows(static_cast<Eigen::Index>(a) * k, k) = centers[active[a]];
    Result<Matrix> stats = Step(fed, x, stacked, k);
    if (!stats.ok()) return stats.status().WithContext("kmeans iteration " + std::to_string(iteration));
    std::vector<int> still_active;
    for (size_t a = 0; a < active.size(); ++a) {
      const int r = active[a];
      const auto block = stats->middleRows(static_cast<Eigen::Index>(a) * k, k);
      KMeansModel& run = runs[static_cast<size_t>(r)];
      run.inertia = block.col(d + 1).sum();
      run.sizes = block.col(d);
      run.iterations = iteration;
      Matrix next = centers[r];  // an empty cluster keeps its centre
      for (int c = 0; c < k; ++c) {
        if (run.sizes(c) > 0) next.row(c) = block.row(c).head(d) / run.sizes(c);
      }
      const double shift = (next - centers[r]).squaredNorm();
      run.converged = shift <= options.tolerance * run.inertia / static_cast<double>(x.rows());
      // Stop with the centres whose inertia and sizes were just measured.
      if (run.converged || iteration == options.max_iterations) {
        run.centers = centers[r];
      } else {
        centers[r] = std::move(next);
        still_active.push_back(r);
      }
    }
    FEDRA_LOG(kInfo) << "kmeans iteration " << iteration << ": " << still_active.size() << " of " << restarts
                     << " restarts still moving";
    double lowest = std::numeric_limits<double>::infinity();
    for (int r : active) lowest = std::min(lowest, runs[static_cast<size_t>(r)].inertia);
    FEDRA_RETURN_IF_ERROR(ReportIteration(options.on_iteration, iteration, {{"inertia", lowest}}));
    active = std::move(still_active);
  }

  size_t best = 0;
  std::vector<double> inertias;
  for (size_t r = 0; r < runs.size(); ++r) {
    inertias.push_back(runs[r].inertia);
    if (runs[r].inertia < runs[best].inertia) best = r;
  }
  KMeansModel model = std::move(runs[best]);
  model.restart_inertias = std::move(inertias);
  return model;
}

Result<KMeansScore> ScoreKMeans(Federation& fed, const FederatedMatrix& x, const Matrix& centers) {
  if (centers.cols() != x.cols()) {
    return InvalidArgument("kmeans: the centres have " + std::to_string(centers.cols()) + " columns, the data " +
                           std::to_string(x.cols()));
  }
  FEDRA_ASSIGN_OR_RETURN(Matrix stats, Step(fed, x, centers, static_cast<int>(centers.rows())));
  return KMeansScore{stats.col(x.cols() + 1).sum(), stats.col(x.cols())};
}

}  // namespace fedra
