// Federated linear regression (lm) over a row-partitioned federated matrix.
//
// Direct: one federated step gathers t(Z) %*% Z and colSums(Z) for Z = [X y] and solves the
// (ridge-regularised) normal equations at the master. CG: conjugate gradient on the same system
// where each iteration costs one batch per site (the fused t(X) %*% (X %*% p)), so the
// ncol x ncol Gram matrix is never formed. R² and RMSE on the training data come from the same
// aggregates; no row leaves a site.
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
  int max_iterations = 0;                // CG; 0 means ncol + 1
  double tolerance = 1e-12;              // CG: stop when |r|² <= tolerance * |r0|²
  IterationHook on_iteration = nullptr;  // CG: "residual_norm2" after each iteration
};

struct LmModel {
  std::vector<std::string> names;  // "(intercept)" first when fitted, then the features
  bool intercept = true;
  Eigen::VectorXd coefficients;
  int64_t rows = 0;
  double r2 = 0;
  double rmse = 0;
  int iterations = 0;  // CG iterations; 0 for the direct solve
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
