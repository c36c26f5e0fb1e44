#include "site-agent/kmeans_stats.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include "federated/kmeans_seeding.h"
#include "site-agent/row_cells.h"

namespace fedra {
namespace {

// Points handled per block when assigning, so the distance matrix stays small.
constexpr Eigen::Index kAssignBlockRows = 4096;
// Points the seeding looks at: enough for good local micro-clusters at any data size.
constexpr Eigen::Index kSeedSampleRows = 20000;
constexpr int kSeedLloydSteps = 3;

struct ClusterStats {
  Matrix sums;              // k x d
  Eigen::VectorXd counts;   // k
  Eigen::VectorXd sq_dist;  // k: summed squared distances to the centre
  std::vector<Eigen::Index> cluster_of_point;
};

// What k-means assigns: the input's rows themselves (not copied), or groups of rows — the cells of
// private-aggregate rows, a sample — each standing for `weights` rows whose coordinates add up to
// `sums` and whose squared norms add up to `squares`.
struct Points {
  const Matrix* rows = nullptr;
  Matrix sums;
  Eigen::VectorXd weights;
  Eigen::VectorXd squares;
  std::vector<Eigen::Index> point_of_row;  // for cells: which point each row of the input is part of

  const Matrix& values() const { return rows ? *rows : sums; }
  Eigen::Index size() const { return values().rows(); }
  double weight(Eigen::Index i) const { return rows ? 1.0 : weights(i); }
  Eigen::VectorXd all_weights() const { return rows ? Eigen::VectorXd::Ones(size()) : weights; }
  // Each point's mean row.
  Matrix means() const { return rows ? *rows : Matrix(sums.array().colwise() / weights.array()); }
};

Points RowsOf(const Matrix& x) {
  Points p;
  p.rows = &x;
  return p;
}

Points CellsOf(const Matrix& x, const FunctionContext& context) {
  CellSums c = SumCells(x, context.cell_of_row, context.cells);
  std::vector<Eigen::Index> present;
  for (Eigen::Index i = 0; i < c.counts.size(); ++i) {
    if (c.counts(i) > 0) present.push_back(i);
  }
  Points p{nullptr,
           Matrix(static_cast<Eigen::Index>(present.size()), x.cols()),
           Eigen::VectorXd(present.size()),
           Eigen::VectorXd(present.size()),
           {}};
  std::vector<Eigen::Index> point_of_cell(context.cells, -1);
  for (size_t i = 0; i < present.size(); ++i) {
    const auto r = static_cast<Eigen::Index>(i);
    p.sums.row(r) = c.sums.row(present[i]);
    p.weights(r) = c.counts(present[i]);
    p.squares(r) = c.squares(present[i]);
    point_of_cell[static_cast<size_t>(present[i])] = r;
  }
  for (uint32_t cell : context.cell_of_row) p.point_of_row.push_back(point_of_cell[cell]);
  return p;
}

Points PointsFor(const Matrix& x, const FunctionContext& context) {
  return context.cell_of_row.empty() ? RowsOf(x) : CellsOf(x, context);
}

// Assigns each point, by its mean, to its nearest centre (the lowest index on ties).
ClusterStats Assign(const Points& p, const Matrix& centers) {
  const Eigen::Index k = centers.rows();
  const Matrix& values = p.values();
  ClusterStats s{Matrix::Zero(k, values.cols()), Eigen::VectorXd::Zero(k), Eigen::VectorXd::Zero(k),
                 std::vector<Eigen::Index>(static_cast<size_t>(p.size()))};
  const Eigen::RowVectorXd center_norms = centers.rowwise().squaredNorm().transpose();
  for (Eigen::Index begin = 0; begin < p.size(); begin += kAssignBlockRows) {
    const Eigen::Index rows = std::min(kAssignBlockRows, p.size() - begin);
    const auto block = values.middleRows(begin, rows);
    // |x - c|² = |x|² - 2 x.c + |c|²; |x|² is the same for every centre, so it can be left out.
    // A group is placed by its mean row.
    Matrix scores = p.rows ? Matrix(-2.0 * (block * centers.transpose()))
                           : Matrix(-2.0 * (Matrix(block.array().colwise() / p.weights.segment(begin, rows).array()) *
                                            centers.transpose()));
    scores.rowwise() += center_norms;
    for (Eigen::Index i = 0; i < rows; ++i) {
      Eigen::Index best = 0;
      for (Eigen::Index j = 1; j < k; ++j) {
        if (scores(i, j) < scores(i, best)) best = j;
      }
      const Eigen::Index at = begin + i;
      s.cluster_of_point[static_cast<size_t>(at)] = best;
      const double w = p.weight(at);
      s.sums.row(best) += block.row(i);
      s.counts(best) += w;
      // A row's distance directly; a group's summed over its rows: sum |x|² - 2 c . sum x + w |c|².
      const double d = w == 1 ? (block.row(i) - centers.row(best)).squaredNorm()
                              : p.squares(at) - 2 * centers.row(best).dot(block.row(i)) + w * center_norms(best);
      s.sq_dist(best) += std::max(0.0, d);
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

// On private-aggregate rows, the fewest rows of any group that differ from a common value of some
// column (`differs`, from DiffersFromCommon), if fewer than `fewest`: the group's sum of that
// column, once the master shifts it, rests on those rows alone.
uint64_t FewestDifferingInGroups(const Eigen::MatrixXf& differs, const Points& points,
                                 const std::vector<Eigen::Index>& group_of_point, Eigen::Index groups,
                                 uint64_t fewest) {
  if (differs.cols() == 0) return fewest;
  Matrix counts = Matrix::Zero(groups, differs.cols());
  for (Eigen::Index i = 0; i < differs.rows(); ++i) {
    const Eigen::Index point = points.point_of_row.empty() ? i : points.point_of_row[static_cast<size_t>(i)];
    const Eigen::Index g = group_of_point[static_cast<size_t>(point)];
    counts.row(g) += differs.row(i).cast<double>();
  }
  for (Eigen::Index i = 0; i < counts.size(); ++i) {
    if (counts(i) > 0) fewest = std::min(fewest, static_cast<uint64_t>(counts(i)));
  }
  return fewest;
}

// The rows that differ from a common value of each column, where the support must look at them.
Eigen::MatrixXf DiffersToWatch(const Matrix& x, const FunctionContext& context) {
  if (context.min_group_rows <= 1 || context.spread == nullptr) return Eigen::MatrixXf(x.rows(), 0);
  return DiffersFromCommon(x, *context.spread);
}

// Up to kSeedSampleRows of the points, chosen at random.
Points Sample(const Points& all, std::mt19937_64& rng) {
  if (all.size() <= kSeedSampleRows) return all;
  std::vector<Eigen::Index> order(static_cast<size_t>(all.size()));
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  Points p{nullptr,
           Matrix(kSeedSampleRows, all.values().cols()),
           Eigen::VectorXd(kSeedSampleRows),
           Eigen::VectorXd(kSeedSampleRows),
           {}};
  for (Eigen::Index i = 0; i < kSeedSampleRows; ++i) {
    const Eigen::Index from = order[static_cast<size_t>(i)];
    p.sums.row(i) = all.values().row(from);
    p.weights(i) = all.weight(from);
    p.squares(i) = all.rows ? all.rows->row(from).squaredNorm() : all.squares(from);
  }
  return p;
}

}  // namespace

Result<FunctionOutput> KMeansSeeds(std::span<const Matrix* const> inputs, const KMeansSeedsParams& params,
                                   const FunctionContext& context) {
  const Matrix& x = *inputs[0];
  const int64_t wanted = params.groups;
  const uint64_t seed = params.seed;
  if (x.rows() == 0 || x.cols() == 0) return InvalidArgument("kmeansSeeds: no data");
  const auto min_rows = static_cast<Eigen::Index>(context.min_group_rows);
  std::mt19937_64 rng(seed);

  // Micro-clusters from a sample, then every point assigned to them.
  const Points all = PointsFor(x, context);
  const Eigen::Index m = std::clamp<Eigen::Index>(x.rows() / min_rows, 1, std::min<Eigen::Index>(wanted, all.size()));
  const Points sample = Sample(all, rng);
  Matrix centers = KMeansPlusPlus(sample.means(), sample.all_weights(), std::min(m, sample.size()), rng);
  for (int step = 0; step < kSeedLloydSteps; ++step) centers = Means(Assign(sample, centers), centers);
  ClusterStats s = Assign(all, centers);

  // Keep the non-empty clusters, then merge any below the minimum into its nearest neighbour.
  std::vector<Eigen::RowVectorXd> sums;
  std::vector<double> counts;
  std::vector<Eigen::Index> group_of_cluster(static_cast<size_t>(s.counts.size()), -1);
  for (Eigen::Index j = 0; j < s.counts.size(); ++j) {
    if (s.counts(j) > 0) {
      group_of_cluster[static_cast<size_t>(j)] = static_cast<Eigen::Index>(sums.size());
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
    for (Eigen::Index& g : group_of_cluster) {
      if (g == static_cast<Eigen::Index>(small)) g = static_cast<Eigen::Index>(nearest);
      if (g > static_cast<Eigen::Index>(small)) --g;
    }
  }
  FunctionOutput out;
  out.value.resize(static_cast<Eigen::Index>(sums.size()), x.cols() + 1);
  for (size_t j = 0; j < sums.size(); ++j) {
    const auto r = static_cast<Eigen::Index>(j);
    out.value.row(r).head(x.cols()) = sums[j] / counts[j];
    out.value(r, x.cols()) = counts[j];
  }
  out.support = static_cast<uint64_t>(*std::min_element(counts.begin(), counts.end()));
  std::vector<Eigen::Index> group_of_point;
  for (Eigen::Index cluster : s.cluster_of_point)
    group_of_point.push_back(group_of_cluster[static_cast<size_t>(cluster)]);
  out.support = FewestDifferingInGroups(DiffersToWatch(x, context), all, group_of_point,
                                        static_cast<Eigen::Index>(sums.size()), out.support);
  return out;
}

Result<FunctionOutput> KMeansStep(std::span<const Matrix* const> inputs, const KMeansStepParams& params,
                                  const FunctionContext& context) {
  const Matrix& x = *inputs[0];
  const Matrix& centers = *inputs[1];
  const int64_t k = params.k;
  if (centers.cols() != x.cols() || centers.rows() == 0 || centers.rows() % k != 0) {
    return InvalidArgument("kmeansStep: centres are " + std::to_string(centers.rows()) + "x" +
                           std::to_string(centers.cols()) + ", expected blocks of " + std::to_string(k) + "x" +
                           std::to_string(x.cols()));
  }
  const Points points = PointsFor(x, context);
  const Eigen::MatrixXf differs = DiffersToWatch(x, context);
  FunctionOutput out;
  out.value.resize(centers.rows(), x.cols() + 2);
  double smallest = std::numeric_limits<double>::infinity();
  uint64_t differing = std::numeric_limits<uint64_t>::max();
  for (Eigen::Index begin = 0; begin < centers.rows(); begin += k) {
    const ClusterStats s = Assign(points, centers.middleRows(begin, k));
    differing = FewestDifferingInGroups(differs, points, s.cluster_of_point, k, differing);
    out.value.middleRows(begin, k).leftCols(x.cols()) = s.sums;
    out.value.middleRows(begin, k).col(x.cols()) = s.counts;
    out.value.middleRows(begin, k).col(x.cols() + 1) = s.sq_dist;
    for (Eigen::Index j = 0; j < k; ++j) {
      if (s.counts(j) > 0) smallest = std::min(smallest, s.counts(j));
    }
  }
  if (std::isfinite(smallest)) out.support = std::min(static_cast<uint64_t>(smallest), differing);
  return out;
}

}  // namespace fedra
