// Federated principal component analysis: one federated step gathers column sums and
// t(X) %*% X, the master forms the covariance (or correlation, with scaling) and keeps the top-k
// eigenvectors; the projected data, ((X - mean) / sd) %*% V, stays at the sites.
#pragma once

#include <string>
#include <vector>

#include "common/matrix.h"
#include "master/tensor/federated_matrix.h"

namespace fedra {

struct PcaOptions {
  int components = 2;
  bool center = true;
  bool scale = false;
};

struct PcaModel {
  Matrix components;                // ncol x k, one unit-norm eigenvector per column
  Eigen::VectorXd variances;        // variance along each component, descending
  Eigen::VectorXd explained_ratio;  // variances / total variance
  Eigen::RowVectorXd center;        // the column means subtracted (zeros when not centring)
  Eigen::RowVectorXd scale;         // the column standard deviations divided by (ones when not scaling)
};

// Fits the components of the row-partitioned `x`.
Result<PcaModel> FitPca(Federation& fed, const FederatedMatrix& x, const PcaOptions& options);

// ((x - center) / scale) %*% components, staying at the sites (intermediates released).
Result<FederatedMatrix> ProjectPca(Federation& fed, const FederatedMatrix& x, const PcaModel& model);

}  // namespace fedra
