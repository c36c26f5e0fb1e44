// Federated linear regression (lm) over a row-partitioned federated matrix.
//
// Direct: one federated step gathers t(Z) %*% Z and colSums(Z) for Z = [X y]; the master centres
// and scales them into the correlation form of the normal equations and solves that. CG:
// conjugate gradient on the same centred system, preconditioned by its diagonal (the columns'
// sums of squares, gathered at the start), where each iteration costs one batch per site (the
// fused t(X) %*% (X %*% p)), so the ncol x ncol Gram matrix is only formed for the summary. R's
// summary of the fit (standard errors, t and p values, residual standard error, R², F) comes
// from the same aggregates; no row leaves a site.
#pragma once

#include <string>
#include <vector>

#include "common/matrix.h"
#include "master/ps/iteration_hook.h"
#include "master/tensor/federated_matrix.h"

namespace fedra {

struct LmOptions {
  double lambda = 0.0;  // ridge penalty (the intercept is not penalised)
  bool intercept = true;
  bool conjugate_gradient = false;
  int max_iterations = 0;  // CG; 0 means 2 x (ncol + 1)
  // CG: stop when the preconditioned residual's norm is at most tolerance x its norm at the start.
  double tolerance = 1e-12;
  IterationHook on_iteration = nullptr;  // CG: "residual_norm2" (preconditioned) after each iteration
};

// What R's summary(lm(...)) reports, for unpenalised fits. Standard errors need the Gram matrix:
// lmCG forms it at the end (one more step) when there are at most kLmSummaryMaxFeatures features.
struct LmSummary {
  Eigen::VectorXd std_errors, t_values, p_values;  // per coefficient; empty when not computed
  double residual_standard_error = 0;              // sqrt(SSE / df)
  double df = 0;                                   // residual degrees of freedom, n - coefficients
  double adj_r2 = 0;
  double f_statistic = 0, f_df1 = 0, f_df2 = 0, f_p_value = 0;
};
inline constexpr int64_t kLmSummaryMaxFeatures = 2000;

struct LmModel {
  std::vector<std::string> names;  // "(intercept)" first when fitted, then the features in column order
  bool intercept = true;
  Eigen::VectorXd coefficients;
  int64_t rows = 0;
  double r2 = 0;  // as R: about the mean with an intercept, about zero without
  double rmse = 0;
  int iterations = 0;        // CG iterations; 0 for the direct solve
  bool converged = true;     // CG: reached the tolerance within max_iterations
  bool has_summary = false;  // lambda == 0
  LmSummary summary;
};

// Fits y on the columns `features` of `data`, with `label` the column holding y.
Result<LmModel> FitLm(Federation& fed, const FederatedMatrix& data, const std::vector<int64_t>& features, int64_t label,
                      const LmOptions& options);

struct RegressionMetrics {
  int64_t rows = 0;
  double r2 = 0;
  double rmse = 0;
};

// R² and RMSE of `model` on other rows (a held-out split) with the same columns: one batch per
// site, aggregates only.
Result<RegressionMetrics> EvaluateLm(Federation& fed, const FederatedMatrix& data, const std::vector<int64_t>& features,
                                     int64_t label, const LmModel& model);

}  // namespace fedra
