#include "federated/kmeans_seeding.h"

namespace fedra {

Matrix KMeansPlusPlus(const Matrix& points, const Eigen::VectorXd& weights, Eigen::Index k, std::mt19937_64& rng) {
  const Eigen::Index n = points.rows();
  auto draw = [&](const Eigen::VectorXd& w) {
    std::uniform_real_distribution<double> u(0, w.sum());
    double at = u(rng);
    Eigen::Index pick = 0;
    while (pick + 1 < n && at >= w(pick)) at -= w(pick++);
    return pick;
  };
  Matrix centers(k, points.cols());
  centers.row(0) = points.row(draw(weights));
  Eigen::VectorXd d2 = (points.rowwise() - centers.row(0)).rowwise().squaredNorm();
  for (Eigen::Index c = 1; c < k; ++c) {
    const Eigen::VectorXd w = weights.cwiseProduct(d2);
    centers.row(c) = points.row(w.sum() > 0 ? draw(w) : draw(weights));
    d2 = d2.cwiseMin((points.rowwise() - centers.row(c)).rowwise().squaredNorm());
  }
  return centers;
}

}  // namespace fedra
