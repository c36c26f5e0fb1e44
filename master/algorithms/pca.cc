#include "master/algorithms/pca.h"

#include <Eigen/Eigenvalues>

#include "master/tensor/federated_ops.h"

namespace fedra {

Result<PcaModel> FitPca(Federation& fed, const FederatedMatrix& x, const PcaOptions& options) {
  const int64_t d = x.cols();
  if (options.components < 1 || options.components > d) {
    return InvalidArgument("pca: components must be in 1.." + std::to_string(d) + ", got " +
                           std::to_string(options.components));
  }
  if (x.rows() < 2) return InvalidArgument("pca needs at least two rows");
  FEDRA_ASSIGN_OR_RETURN(std::vector<Matrix> agg, x.SumOverParts(fed, {{Op::kTsmm}, {Op::kColSums}}));
  const double n = static_cast<double>(x.rows());
  PcaModel model;
  model.center = options.center ? Eigen::RowVectorXd(agg[1].row(0) / n) : Eigen::RowVectorXd::Zero(d);
  // Second moments about the centre, over n - 1: t(X) %*% X - n c' c (c = 0 when not centring).
  Matrix cov = (agg[0] - n * model.center.transpose() * model.center) / (n - 1);
  model.scale = Eigen::RowVectorXd::Ones(d);
  if (options.scale) {
    const Eigen::VectorXd sd = cov.diagonal().cwiseMax(0).cwiseSqrt();
    for (int64_t j = 0; j < d; ++j) {
      if (sd(j) == 0)
        return FailedPrecondition("pca: column '" + x.column_names()[j] + "' is constant and cannot be scaled");
    }
    model.scale = sd.transpose();
    cov = sd.cwiseInverse().asDiagonal() * cov * sd.cwiseInverse().asDiagonal();
  }
  Eigen::SelfAdjointEigenSolver<Matrix> eig(cov);
  if (eig.info() != Eigen::Success) return Internal("pca: eigen decomposition failed");
  const int k = options.components;
  // Eigen sorts ascending: take the last k, largest first, with a deterministic sign (the
  // largest entry of each component is positive).
  model.components.resize(d, k);
  model.variances.resize(k);
  for (int c = 0; c < k; ++c) {
    Eigen::VectorXd v = eig.eigenvectors().col(d - 1 - c);
    Eigen::Index top;
    v.cwiseAbs().maxCoeff(&top);
    if (v(top) < 0) v = -v;
    model.components.col(c) = v;
    model.variances(c) = std::max(0.0, eig.eigenvalues()(d - 1 - c));
  }
  const double total = eig.eigenvalues().cwiseMax(0).sum();
  model.explained_ratio = total > 0 ? Eigen::VectorXd(model.variances / total) : Eigen::VectorXd::Zero(k);
  return model;
}

Result<FederatedMatrix> ProjectPca(Federation& fed, const FederatedMatrix& x, const PcaModel& model) {
  FEDRA_ASSIGN_OR_RETURN(FederatedMatrix centered, Elementwise(fed, x, Op::kSub, Matrix(model.center)));
  FEDRA_ASSIGN_OR_RETURN(FederatedMatrix scaled, Elementwise(fed, centered, Op::kDiv, Matrix(model.scale)));
  return MatMul(fed, scaled, model.components);
}

}  // namespace fedra
