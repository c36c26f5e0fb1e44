#include "master/algorithms/lm.h"

#include <cmath>

#include <Eigen/Dense>

#include "common/logging.h"
#include "master/algorithms/statistics.h"

namespace fedra {
namespace {

// Column sums of the data: all the direct solve, CG and the summary start from.
struct Sums {
  double n = 0;
  Eigen::VectorXd x_sum, x_squares;  // colSums(X), colSums(X^2)
  double y_sum = 0, y_squares = 0;
  Eigen::VectorXd xty;  // t(X) %*% y
  Matrix xtx;           // t(X) %*% X; empty when not gathered
};

// The normal equations of the features alone: about the means with an intercept (which is then
// mean(y) - mean(X) %*% w), about zero without. Centring takes the intercept's near-collinearity
// with every column whose mean is far from zero out of the system, so that scaling by the
// diagonal leaves it as well conditioned as the columns' correlations.
struct Centred {
  bool intercept = true;
  double n = 0;
  Eigen::VectorXd mean_x;  // zeros without an intercept
  double mean_y = 0;
  Eigen::VectorXd sxy;       // t(Xc) %*% yc
  double syy = 0;            // t(yc) %*% yc
  Eigen::VectorXd diagonal;  // diag(t(Xc) %*% Xc)
  Matrix sxx;                // t(Xc) %*% Xc; empty when not gathered
};

Centred Centre(const Sums& s, bool intercept) {
  Centred c;
  c.intercept = intercept;
  c.n = s.n;
  const Eigen::Index d = s.x_sum.size();
  c.mean_x = intercept ? Eigen::VectorXd(s.x_sum / s.n) : Eigen::VectorXd::Zero(d);
  c.mean_y = intercept ? s.y_sum / s.n : 0;
  c.sxy = s.xty - s.n * c.mean_y * c.mean_x;
  c.syy = s.y_squares - s.n * c.mean_y * c.mean_y;
  c.diagonal = s.x_squares - s.n * c.mean_x.cwiseAbs2();
  if (s.xtx.size() > 0) c.sxx = s.xtx - s.n * c.mean_x * c.mean_x.transpose();
  return c;
}

// sqrt(diagonal + lambda): the preconditioner's square root. A column without spread (constant
// with an intercept, all zero without) makes the unpenalised system singular.
Result<Eigen::VectorXd> Scales(const Centred& c, double lambda, const std::vector<std::string>& names) {
  Eigen::VectorXd scale(c.diagonal.size());
  for (Eigen::Index j = 0; j < scale.size(); ++j) {
    const double raw = c.diagonal(j) + c.n * c.mean_x(j) * c.mean_x(j);  // the column's sum of squares
    if (lambda == 0 && !(c.diagonal(j) > 1e-12 * raw)) {
      return FailedPrecondition(
          "lm: column '" + names[j] + "' is " +
          (c.intercept ? "constant, so it is collinear with the intercept" : "zero at every row") +
          "; leave it out or try lambda > 0");
    }
    scale(j) = std::sqrt(c.diagonal(j) + lambda);
  }
  return scale;
}

// [intercept; w] from the features' coefficients w.
Eigen::VectorXd AllCoefficients(const Centred& c, const Eigen::VectorXd& w) {
  if (!c.intercept) return w;
  Eigen::VectorXd all(w.size() + 1);
  all(0) = c.mean_y - c.mean_x.dot(w);
  all.tail(w.size()) = w;
  return all;
}

// The scaled Gram matrix diag(1/scale) (t(Xc) %*% Xc + lambda I) diag(1/scale), factorised;
// fails when its columns are collinear.
Result<Eigen::LDLT<Matrix>> FactoriseScaled(const Centred& c, double lambda, const Eigen::VectorXd& scale) {
  Matrix scaled = c.sxx;
  scaled.diagonal().array() += lambda;
  scaled = scale.cwiseInverse().asDiagonal() * scaled * scale.cwiseInverse().asDiagonal();
  Eigen::LDLT<Matrix> ldlt(scaled);
  if (ldlt.info() != Eigen::Success || !ldlt.isPositive() || ldlt.vectorD().minCoeff() <= 1e-12) {
    return FailedPrecondition(
        "lm: the feature columns are collinear (t(X) %*% X is singular); leave one out or try "
        "lambda > 0");
  }
  return ldlt;
}

// |y - b0 - X w|² from the sums: about the means, plus what b0 and w miss of the mean of y
// (nothing for a fit's own intercept, nor without one, where the means are zero).
double ResidualSquares(const Centred& c, double b0, const Eigen::VectorXd& w, const Eigen::VectorXd& sxx_w) {
  const double offset = c.mean_y - b0 - c.mean_x.dot(w);
  return std::max(0.0, c.syy - 2 * w.dot(c.sxy) + w.dot(sxx_w) + c.n * offset * offset);
}

// Fills the model's metrics and, for unpenalised fits, R's summary. `sxx_w` is
// t(Xc) %*% Xc %*% w; `factorised`, when given, the scaled Gram matrix for standard errors.
void Summarise(const Centred& c, const Eigen::VectorXd& w, const Eigen::VectorXd& sxx_w, double lambda,
               const Eigen::LDLT<Matrix>* factorised, const Eigen::VectorXd& scale, LmModel* model) {
  model->coefficients = AllCoefficients(c, w);
  const double sse = ResidualSquares(c, c.intercept ? model->coefficients(0) : 0, w, sxx_w);
  const double n = c.n;
  const auto d = static_cast<double>(w.size());
  const double o = c.intercept ? 1 : 0;
  model->rmse = std::sqrt(sse / n);
  model->r2 = c.syy > 0 ? 1 - sse / c.syy : 0;
  model->has_summary = lambda == 0 && n > d + o;
  if (!model->has_summary) return;
  LmSummary& s = model->summary;
  s.df = n - d - o;
  const double sigma2 = sse / s.df;
  s.residual_standard_error = std::sqrt(sigma2);
  s.adj_r2 = 1 - (1 - model->r2) * (n - o) / s.df;
  s.f_df1 = d;
  s.f_df2 = s.df;
  s.f_statistic = ((c.syy - sse) / d) / sigma2;
  s.f_p_value = FUpperTail(s.f_statistic, s.f_df1, s.f_df2);
  if (factorised == nullptr) return;
  // Cov(w) = sigma² (t(Xc) %*% Xc)^-1; Var(intercept) = sigma² (1/n + mean' (t(Xc) %*% Xc)^-1 mean).
  const Eigen::Index k = model->coefficients.size();
  const Matrix inverse_scaled = factorised->solve(Matrix::Identity(w.size(), w.size()));
  const Eigen::VectorXd scaled_mean = c.mean_x.cwiseQuotient(scale);
  s.std_errors.resize(k);
  if (c.intercept) s.std_errors(0) = std::sqrt(sigma2 * (1 / n + scaled_mean.dot(inverse_scaled * scaled_mean)));
  s.std_errors.tail(w.size()) = (sigma2 * inverse_scaled.diagonal()).cwiseSqrt().cwiseQuotient(scale);
  s.t_values = model->coefficients.cwiseQuotient(s.std_errors);
  s.p_values.resize(k);
  for (Eigen::Index j = 0; j < k; ++j) s.p_values(j) = TwoSidedTPValue(s.t_values(j), s.df);
}

Status CheckFinite(const LmModel& model) {
  if (!model.coefficients.allFinite() || !std::isfinite(model.r2)) {
    return FailedPrecondition("lm: the fit produced non-finite values");
  }
  return Status::Ok();
}

// Every column sum and t(Z) %*% Z of z = [X y] in one step.
Result<Sums> GatherGram(Federation& fed, const FederatedMatrix& z) {
  FEDRA_ASSIGN_OR_RETURN(std::vector<Matrix> agg, z.SumOverParts(fed, {{Op::kTsmm}, {Op::kColSums}}));
  const Matrix& g = agg[0];
  const Eigen::Index d = g.rows() - 1;
  Sums s;
  s.n = static_cast<double>(z.rows());
  s.xtx = g.topLeftCorner(d, d);
  s.x_squares = g.diagonal().head(d);
  s.xty = g.col(d).head(d);
  s.y_squares = g(d, d);
  s.x_sum = agg[1].leftCols(d).transpose();
  s.y_sum = agg[1](0, d);
  return s;
}

Result<LmModel> SolveDirect(Federation& fed, const FederatedMatrix& z, const LmOptions& options, LmModel model) {
  FEDRA_ASSIGN_OR_RETURN(Sums sums, GatherGram(fed, z));
  const Centred c = Centre(sums, options.intercept);
  const std::vector<std::string> features(model.names.end() - c.sxy.size(), model.names.end());
  FEDRA_ASSIGN_OR_RETURN(Eigen::VectorXd scale, Scales(c, options.lambda, features));
  FEDRA_ASSIGN_OR_RETURN(Eigen::LDLT<Matrix> ldlt, FactoriseScaled(c, options.lambda, scale));
  const Eigen::VectorXd w = ldlt.solve(c.sxy.cwiseQuotient(scale)).cwiseQuotient(scale);
  Summarise(c, w, c.sxx * w, options.lambda, &ldlt, scale, &model);
  FEDRA_RETURN_IF_ERROR(CheckFinite(model));
  return model;
}

Result<LmModel> SolveCg(Federation& fed, const FederatedMatrix& z, const LmOptions& options, LmModel model) {
  const int64_t d = z.cols() - 1;
  std::vector<int64_t> feature_idx(d);
  for (int64_t j = 0; j < d; ++j) feature_idx[j] = j;
  FEDRA_ASSIGN_OR_RETURN(FederatedMatrix x, z.SelectColumns(fed, feature_idx));
  // Setup: t(Z) %*% Z %*% e = t(Z) %*% y (e picks y's column), then the counts, sums and sums of
  // squares of every column (the preconditioner). The product comes first, in a step of its own:
  // where it is refused (dp-aggregate data has no noised form of it, nor of the iterations'
  // products), the sites refuse before releasing anything.
  Matrix pick_y = Matrix::Zero(d + 1, 1);
  pick_y(d, 0) = 1;
  FEDRA_ASSIGN_OR_RETURN(std::vector<Matrix> zty, z.SumOverParts(fed, {{Op::kTsmv, nullptr, true}}, &pick_y));
  FEDRA_ASSIGN_OR_RETURN(std::vector<Matrix> moments, z.SumOverParts(fed, {{MomentsParams{}}}));
  Sums sums;
  sums.n = static_cast<double>(z.rows());
  sums.x_sum = moments[0].row(1).head(d).transpose();
  sums.x_squares = moments[0].row(2).head(d).transpose();
  sums.y_sum = moments[0](1, d);
  sums.y_squares = zty[0](d, 0);
  sums.xty = zty[0].col(0).head(d);
  Centred c = Centre(sums, options.intercept);
  const std::vector<std::string> features(model.names.end() - d, model.names.end());
  FEDRA_ASSIGN_OR_RETURN(Eigen::VectorXd scale, Scales(c, options.lambda, features));
  const Eigen::VectorXd inverse_diagonal = scale.cwiseAbs2().cwiseInverse();

  // t(Xc) %*% Xc %*% p (+ lambda p), with t(X) %*% X %*% p computed at the sites: one batch per site.
  auto apply = [&](const Eigen::VectorXd& p, double lambda) -> Result<Eigen::VectorXd> {
    Matrix v = p;
    FEDRA_ASSIGN_OR_RETURN(std::vector<Matrix> q, x.SumOverParts(fed, {{Op::kTsmv, nullptr, true}}, &v));
    return Eigen::VectorXd(q[0].col(0) - c.n * c.mean_x * c.mean_x.dot(p) + lambda * p);
  };

  // Conjugate gradient preconditioned by the diagonal.
  Eigen::VectorXd w = Eigen::VectorXd::Zero(d);
  Eigen::VectorXd r = c.sxy;
  Eigen::VectorXd h = inverse_diagonal.cwiseProduct(r);
  Eigen::VectorXd p = h;
  double rh = r.dot(h);
  const double start = rh;
  const double target = options.tolerance * options.tolerance * start;
  const int max_iterations = options.max_iterations > 0 ? options.max_iterations : 2 * static_cast<int>(d + 1);
  int i = 0;
  while (i < max_iterations && rh > target) {
    Result<Eigen::VectorXd> q = apply(p, options.lambda);
    if (!q.ok()) return q.status().WithContext("lmCG iteration " + std::to_string(i + 1));
    const double alpha = rh / p.dot(*q);
    w += alpha * p;
    r -= alpha * *q;
    h = inverse_diagonal.cwiseProduct(r);
    const double old_rh = rh;
    rh = r.dot(h);
    p = h + (rh / old_rh) * p;
    ++i;
    FEDRA_LOG(kInfo) << "lmCG iteration " << i << ": preconditioned |r|^2 = " << rh;
    FEDRA_RETURN_IF_ERROR(ReportIteration(options.on_iteration, i, {{"residual_norm2", rh}}));
  }
  model.iterations = i;
  model.converged = rh <= target;
  if (!model.converged) {
    FEDRA_LOG(kWarn) << "lmCG: stopped after " << i << " iterations with the relative residual at "
                     << std::sqrt(rh / start) << ", above the tolerance " << options.tolerance << "; raise maxi";
  }
  // The summary's standard errors need t(X) %*% X: one more step, as the metrics' product would be.
  if (options.lambda == 0 && d <= kLmSummaryMaxFeatures) {
    FEDRA_ASSIGN_OR_RETURN(std::vector<Matrix> gram, x.SumOverParts(fed, {{Op::kTsmm}}));
    sums.xtx = std::move(gram[0]);
    c = Centre(sums, options.intercept);
    FEDRA_ASSIGN_OR_RETURN(Eigen::LDLT<Matrix> ldlt, FactoriseScaled(c, 0, scale));
    Summarise(c, w, c.sxx * w, 0, &ldlt, scale, &model);
  } else {
    FEDRA_ASSIGN_OR_RETURN(Eigen::VectorXd sxx_w, apply(w, 0));
    Summarise(c, w, sxx_w, options.lambda, nullptr, scale, &model);
  }
  FEDRA_RETURN_IF_ERROR(CheckFinite(model));
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
  const Eigen::Index o = model.intercept ? 1 : 0;
  if (static_cast<Eigen::Index>(features.size()) + o != model.coefficients.size()) {
    return InvalidArgument("lm: the model has " + std::to_string(model.coefficients.size()) + " coefficients for " +
                           std::to_string(features.size()) + " features");
  }
  FEDRA_ASSIGN_OR_RETURN(FederatedMatrix z, FeaturesThenLabel(fed, data, features, label));
  FEDRA_ASSIGN_OR_RETURN(Sums s, GatherGram(fed, z));
  // About the held-out rows' own means, which R² is measured against.
  const Centred c = Centre(s, true);
  const Eigen::VectorXd w = model.coefficients.tail(features.size());
  const double sse = ResidualSquares(c, model.intercept ? model.coefficients(0) : 0, w, c.sxx * w);
  RegressionMetrics m;
  m.rows = static_cast<int64_t>(c.n);
  m.rmse = std::sqrt(sse / c.n);
  m.r2 = c.syy > 0 ? 1 - sse / c.syy : 0;
  if (!std::isfinite(m.r2)) return FailedPrecondition("lm: the fit produced non-finite values");
  return m;
}

}  // namespace fedra
