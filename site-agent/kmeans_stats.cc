#include "site-agent/kmeans_stats.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include "federated/kmeans_seeding.h"

namespace fedra {
namespace {

// Rows handled per block when assigning, so the distance matrix stays small.
constexpr Eigen::Index kAssignBlockRows = 4096;
// Rows the seeding looks at: enough for good local micro-clusters at any data size.
constexpr Eigen::Index kSeedSampleRows = 20000;
constexpr int kSeedLloydSteps = 3;

struct ClusterStats {
  Matrix sums;              // k x d
  Eigen::VectorXd counts;   // k
  Eigen::VectorXd sq_dist;  // k: summed squared distances to the centre
};

// Assigns each row of x to its nearest centre (the lowest index on ties).
ClusterStats Assign(const Matrix& x, const Matrix& centers) {
  const Eigen::Index k = centers.rows();
  ClusterStats s{Matrix::Zero(k, x.cols()), Eigen::VectorXd::Zero(k), Eigen::VectorXd::Zero(k)};
  const Eigen::RowVectorXd center_norms = centers.rowwise().squaredNorm().transpose();
  for (Eigen::Index begin = 0; begin < x.rows(); begin += kAssignBlockRows) {
    const Eigen::Index rows = std::min(kAssignBlockRows, x.rows() - begin);
    const auto block = x.middleRows(begin, rows);
    // |x - c|² = |x|² - 2 x.c + |c|²; |x|² is the same for every centre, so it can be left out.
    Matrix scores = -2.0 * (block * centers.transpose());
    scores.rowwise() += center_norms;
    for (Eigen::Index i = 0; i < rows; ++i) {
      Eigen::Index best = 0;
      for (Eigen::Index j = 1; j < k; ++j) {
        if (scores(i, j) < scores(i, best)) best = j;
      }
      s.sums.row(best) += block.row(i);
      s.counts(best) += 1;
      s.sq_dist(best) += (block.row(i) - centers.row(best)).squaredNorm();
    }
  }
  return s;
}

// Means of the non-empty clusters; empty ones keep their centre.
Matrix Means(const ClusterStats& s, const Matrix& centers) {
  Matrix out = centers;
  for (Eigen::Index j = 0; j < out.rows(); ++j) {
    if (s.counts(j) > 0) out.row(j) = s.sums.row(j) / s.counts(j);
  }
  return out;
}

Result<int64_t> PositiveParam(const nlohmann::json& params, const char* name, const char* function) {
  const auto it = params.find(name);
  if (it == params.end() || !it->is_number_integer() || it->get<int64_t>() < 1) {
    return InvalidArgument(std::string(function) + ": params." + name + " must be a positive integer");
  }
  return it->get<int64_t>();
}

}  // namespace

Result<FunctionOutput> KMeansSeeds(std::span<const Matrix* const> inputs, const nlohmann::json& params,
                                   const FunctionContext& context) {
  const Matrix& x = *inputs[0];
  FEDRA_ASSIGN_OR_RETURN(int64_t wanted, PositiveParam(params, "m", "kmeansSeeds"));
  const uint64_t seed = params.value("seed", uint64_t{1});
  if (x.rows() == 0 || x.cols() == 0) return InvalidArgument("kmeansSeeds: no data");
  const auto min_rows = static_cast<Eigen::Index>(context.min_group_rows);
  const Eigen::Index m = std::clamp<Eigen::Index>(x.rows() / min_rows, 1, wanted);
  std::mt19937_64 rng(seed);

  // Micro-clusters from a sample, then every row assigned to them.
  Matrix sample;
  if (x.rows() <= kSeedSampleRows) {
    sample = x;
  } else {
    std::vector<Eigen::Index> rows(static_cast<size_t>(x.rows()));
    std::iota(rows.begin(), rows.end(), 0);
    std::shuffle(rows.begin(), rows.end(), rng);
    sample.resize(kSeedSampleRows, x.cols());
    for (Eigen::Index i = 0; i < kSeedSampleRows; ++i) sample.row(i) = x.row(rows[static_cast<size_t>(i)]);
  }
  Matrix centers = KMeansPlusPlus(sample, Eigen::VectorXd::Ones(sample.rows()), std::min(m, sample.rows()), rng);
  for (int step = 0; step < kSeedLloydSteps; ++step) centers = Means(Assign(sample, centers), centers);
  ClusterStats s = Assign(x, centers);

  // Keep the non-empty clusters, then merge any below the minimum into its nearest neighbour.
  std::vector<Eigen::RowVectorXd> sums;
  std::vector<double> counts;
  for (Eigen::Index j = 0; j < s.counts.size(); ++j) {
    if (s.counts(j) > 0) {
      sums.push_back(s.sums.row(j));
      counts.push_back(s.counts(j));
    }
  }
  while (sums.size() > 1) {
    const size_t small = static_cast<size_t>(std::min_element(counts.begin(), counts.end()) - counts.begin());
    if (counts[small] >= static_cast<double>(min_rows)) break;
    const Eigen::RowVectorXd mean = sums[small] / counts[small];
    size_t nearest = small == 0 ? 1 : 0;
    double best = std::numeric_limits<double>::infinity();
    for (size_t j = 0; j < sums.size(); ++j) {
      const double d = j == small ? best : (sums[j] / counts[j] - mean).squaredNorm();
      if (d < best) best = d, nearest = j;
    }
    sums[nearest] += sums[small];
    counts[nearest] += counts[small];
    sums.erase(sums.begin() + static_cast<std::ptrdiff_t>(small));
    counts.erase(counts.begin() + static_cast<std::ptrdiff_t>(small));
  }
  FunctionOutput out;
  out.value.resize(static_cast<Eigen::Index>(sums.size()), x.cols() + 1);
  for (size_t j = 0; j < sums.size(); ++j) {
    const auto r = static_cast<Eigen::Index>(j);
    out.value.row(r).head(x.cols()) = sums[j] / counts[j];
    out.value(r, x.cols()) = counts[j];
  }
  out.smallest_group_rows = static_cast<uint64_t>(*std::min_element(counts.begin(), counts.end()));
  return out;
}

Result<FunctionOutput> KMeansStep(std::span<const Matrix* const> inputs, const nlohmann::json& params,
                                  const FunctionContext&) {
  const Matrix& x = *inputs[0];
  const Matrix& centers = *inputs[1];
  FEDRA_ASSIGN_OR_RETURN(int64_t k, PositiveParam(params, "k", "kmeansStep"));
  if (centers.cols() != x.cols() || centers.rows() == 0 || centers.rows() % k != 0) {
    return InvalidArgument("kmeansStep: centres are " + std::to_string(centers.rows()) + "x" +
                           std::to_string(centers.cols()) + ", expected blocks of " + std::to_string(k) + "x" +
                           std::to_string(x.cols()));
  }
  FunctionOutput out;
  out.value.resize(centers.rows(), x.cols() + 2);
  double smallest = std::numeric_limits<double>::infinity();
  for (Eigen::Index begin = 0; begin < centers.rows(); begin += k) {
    const ClusterStats s = Assign(x, centers.middleRows(begin, k));
    out.value.middleRows(begin, k).leftCols(x.cols()) = s.sums;
    out.value.middleRows(begin, k).col(x.cols()) = s.counts;
    out.value.middleRows(begin, k).col(x.cols() + 1) = s.sq_dist;
    for (Eigen::Index j = 0; j < k; ++j) {
      if (s.counts(j) > 0) smallest = std::min(smallest, s.counts(j));
    }
  }
  if (std::isfinite(smallest)) out.smallest_group_rows = static_cast<uint64_t>(smallest);
  return out;
}

}  // namespace fedra
