#include "master/algorithms/lm.h"

#include <cmath>

#include <Eigen/Dense>

#include "common/logging.h"

namespace fedra {
namespace {

// The normal equations A w = b with the intercept as the first unknown, and what the metrics need.
struct NormalEquations {
  Matrix a;           // t(X1) %*% X1 (without the ridge term); direct solve only
  Eigen::VectorXd b;  // t(X1) %*% y
  double yty = 0;
  double y_sum = 0;
  double n = 0;
};

// R² and RMSE from the aggregates: SSE = y'y - 2 w'b + w'(A w), with `a_w` = A w (no ridge).
Result<RegressionMetrics> Metrics(const NormalEquations& eq, const Eigen::VectorXd& w, const Eigen::VectorXd& a_w) {
  const double sse = eq.yty - 2 * w.dot(eq.b) + w.dot(a_w);
  const double sst = eq.yty - eq.y_sum * eq.y_sum / eq.n;
  RegressionMetrics m;
  m.rows = static_cast<int64_t>(eq.n);
  m.rmse = std::sqrt(std::max(0.0, sse) / eq.n);
  m.r2 = sst > 0 ? 1 - sse / sst : 0;
  if (!std::isfinite(m.r2)) return FailedPrecondition("lm: the fit produced non-finite values");
  return m;
}

Status FinishModel(const NormalEquations& eq, const Eigen::VectorXd& a_w, LmModel* model) {
  FEDRA_ASSIGN_OR_RETURN(RegressionMetrics m, Metrics(eq, model->coefficients, a_w));
  model->r2 = m.r2;
  model->rmse = m.rmse;
  return Status::Ok();
}

// The normal equations of z = [X y] from one step: t(Z) %*% Z and colSums(Z).
Result<NormalEquations> GatherNormalEquations(Federation& fed, const FederatedMatrix& z, bool intercept) {
  FEDRA_ASSIGN_OR_RETURN(std::vector<Matrix> agg, z.SumOverParts(fed, {{Op::kTsmm}, {Op::kColSums}}));
  const Matrix& g = agg[0];
  const Eigen::Index d = g.rows() - 1;  // features
  const Eigen::Index o = intercept ? 1 : 0;
  const Eigen::Index k = d + o;
  NormalEquations eq;
  eq.n = static_cast<double>(z.rows());
  eq.yty = g(d, d);
  eq.y_sum = agg[1](0, d);
  eq.a.resize(k, k);
  eq.b.resize(k);
  eq.a.bottomRightCorner(d, d) = g.topLeftCorner(d, d);
  eq.b.tail(d) = g.col(d).head(d);
  if (intercept) {
    eq.a(0, 0) = eq.n;
    eq.a.block(0, o, 1, d) = agg[1].leftCols(d);
    eq.a.block(o, 0, d, 1) = agg[1].leftCols(d).transpose();
    eq.b(0) = eq.y_sum;
  }
  return eq;
}

// Adds lambda to the diagonal, except at the intercept.
void AddRidge(Matrix* a, double lambda, bool intercept) {
  for (Eigen::Index i = intercept ? 1 : 0; i < a->rows(); ++i) (*a)(i, i) += lambda;
}

Result<LmModel> SolveDirect(Federation& fed, const FederatedMatrix& z, const LmOptions& options, LmModel model) {
  FEDRA_ASSIGN_OR_RETURN(NormalEquations eq, GatherNormalEquations(fed, z, options.intercept));
  Matrix regularised = eq.a;
  AddRidge(&regularised, options.lambda, options.intercept);
  Eigen::LDLT<Matrix> ldlt(regularised);
  if (ldlt.info() != Eigen::Success || !ldlt.isPositive() ||
      ldlt.vectorD().cwiseAbs().minCoeff() <= 1e-12 * std::max(1.0, ldlt.vectorD().cwiseAbs().maxCoeff())) {
    return FailedPrecondition("lm: t(X) %*% X is singular (constant or collinear columns?); try lambda > 0");
  }
  model.coefficients = ldlt.solve(eq.b);
  FEDRA_RETURN_IF_ERROR(FinishModel(eq, eq.a * model.coefficients, &model));
  return model;
}

Result<LmModel> SolveCg(Federation& fed, const FederatedMatrix& z, const LmOptions& options, LmModel model) {
  const int64_t d = z.cols() - 1;
  std::vector<int64_t> feature_idx(d), label_idx{d};
  for (int64_t j = 0; j < d; ++j) feature_idx[j] = j;
  FEDRA_ASSIGN_OR_RETURN(FederatedMatrix x, z.SelectColumns(fed, feature_idx));
  FEDRA_ASSIGN_OR_RETURN(FederatedMatrix y, z.SelectColumns(fed, label_idx));
  // Setup: t(X) %*% y, colSums(Z) and y'y.
  FEDRA_ASSIGN_OR_RETURN(std::vector<Matrix> setup, x.SumOverParts(fed, {{Op::kTmatmul, &y}}));
  FEDRA_ASSIGN_OR_RETURN(std::vector<Matrix> sums, z.SumOverParts(fed, {{Op::kColSums}}));
  FEDRA_ASSIGN_OR_RETURN(std::vector<Matrix> yy, y.SumOverParts(fed, {{Op::kTsmm}}));
  const Eigen::Index o = options.intercept ? 1 : 0;
  const Eigen::Index k = d + o;
  NormalEquations eq;
  eq.n = static_cast<double>(z.rows());
  eq.yty = yy[0](0, 0);
  eq.y_sum = sums[0](0, d);
  const Eigen::VectorXd col_sums = sums[0].leftCols(d).transpose();
  eq.b.resize(k);
  eq.b.tail(d) = setup[0].col(0);
  if (options.intercept) eq.b(0) = eq.y_sum;

  // A p, with the Gram part computed at the sites: one batch per site.
  auto apply = [&](const Eigen::VectorXd& p, bool ridge) -> Result<Eigen::VectorXd> {
    Matrix v = p.tail(d);
    FEDRA_ASSIGN_OR_RETURN(std::vector<Matrix> q, x.SumOverParts(fed, {{Op::kTsmv, nullptr, true}}, &v));
    Eigen::VectorXd out(k);
    out.tail(d) = q[0].col(0);
    if (options.intercept) {
      out(0) = eq.n * p(0) + col_sums.dot(p.tail(d));
      out.tail(d) += col_sums * p(0);
    }
    if (ridge) out.tail(d) += options.lambda * p.tail(d);
    return out;
  };

  Eigen::VectorXd w = Eigen::VectorXd::Zero(k);
  Eigen::VectorXd r = -eq.b;
  Eigen::VectorXd p = -r;
  double norm_r2 = r.squaredNorm();
  const double target = options.tolerance * norm_r2;
  const int max_iterations = options.max_iterations > 0 ? options.max_iterations : static_cast<int>(k) + 1;
  int i = 0;
  while (i < max_iterations && norm_r2 > target) {
    Result<Eigen::VectorXd> q = apply(p, true);
    if (!q.ok()) return q.status().WithContext("lmCG iteration " + std::to_string(i + 1));
    const double alpha = norm_r2 / p.dot(*q);
    w += alpha * p;
    const double old_norm_r2 = norm_r2;
    r += alpha * *q;
    norm_r2 = r.squaredNorm();
    p = -r + (norm_r2 / old_norm_r2) * p;
    ++i;
    FEDRA_LOG(kInfo) << "lmCG iteration " << i << ": |r|^2 = " << norm_r2;
    FEDRA_RETURN_IF_ERROR(ReportIteration(options.on_iteration, i, {{"residual_norm2", norm_r2}}));
  }
  model.coefficients = w;
  model.iterations = i;
  // The metrics need A w without the ridge term: one more step.
  FEDRA_ASSIGN_OR_RETURN(Eigen::VectorXd aw, apply(w, false));
  FEDRA_RETURN_IF_ERROR(FinishModel(eq, aw, &model));
  return model;
}

// Z = [X y]; when the data already is Z, it is used as it is instead of copied at the sites.
Result<FederatedMatrix> FeaturesThenLabel(Federation& fed, const FederatedMatrix& data,
                                          const std::vector<int64_t>& features, int64_t label) {
  std::vector<int64_t> columns = features;
  columns.push_back(label);
  bool identity = static_cast<int64_t>(columns.size()) == data.cols();
  for (size_t j = 0; identity && j < columns.size(); ++j) identity = columns[j] == static_cast<int64_t>(j);
  if (identity) return data;
  return data.SelectColumns(fed, columns);
}

// Fits the last column of z = [X y] on the others.
Result<LmModel> FitZ(Federation& fed, const FederatedMatrix& z, const LmOptions& options) {
  LmModel model;
  model.rows = z.rows();
  model.intercept = options.intercept;
  if (options.intercept) model.names.push_back("(intercept)");
  for (int64_t j = 0; j + 1 < z.cols(); ++j) model.names.push_back(z.column_names()[j]);
  return options.conjugate_gradient ? SolveCg(fed, z, options, std::move(model))
                                    : SolveDirect(fed, z, options, std::move(model));
}

}  // namespace

Result<LmModel> FitLm(Federation& fed, const FederatedMatrix& data, const std::vector<int64_t>& features, int64_t label,
                      const LmOptions& options) {
  if (features.empty()) return InvalidArgument("lm: no feature columns");
  if (options.lambda < 0) return InvalidArgument("lm: lambda must be >= 0");
  FEDRA_ASSIGN_OR_RETURN(FederatedMatrix z, FeaturesThenLabel(fed, data, features, label));
  return FitZ(fed, z, options);
}

Result<RegressionMetrics> EvaluateLm(Federation& fed, const FederatedMatrix& data, const std::vector<int64_t>& features,
                                     int64_t label, const LmModel& model) {
  if (static_cast<Eigen::Index>(features.size()) + (model.intercept ? 1 : 0) != model.coefficients.size()) {
    return InvalidArgument("lm: the model has " + std::to_string(model.coefficients.size()) + " coefficients for " +
                           std::to_string(features.size()) + " features");
  }
  FEDRA_ASSIGN_OR_RETURN(FederatedMatrix z, FeaturesThenLabel(fed, data, features, label));
  FEDRA_ASSIGN_OR_RETURN(NormalEquations eq, GatherNormalEquations(fed, z, model.intercept));
  return Metrics(eq, model.coefficients, eq.a * model.coefficients);
}

}  // namespace fedra
