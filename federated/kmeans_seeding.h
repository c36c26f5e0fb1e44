// k-means++ seeding, shared by the sites (on their own rows) and the master (on the sites'
// micro-cluster means): each new centre is drawn with probability proportional to its weight
// times its squared distance to the nearest centre chosen so far.
#pragma once

#include <random>

#include <Eigen/Core>

#include "common/matrix.h"

namespace fedra {

// k centres from the rows of `points`, each row weighted by `weights` (all ones: plain
// k-means++). Points already chosen (distance 0) are not drawn again unless all are.
Matrix KMeansPlusPlus(const Matrix& points, const Eigen::VectorXd& weights, Eigen::Index k, std::mt19937_64& rng);

}  // namespace fedra
