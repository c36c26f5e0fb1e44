// Federated logistic regression, binomial (labels 0/1) and multinomial (labels 0..K-1), with L2
// regularisation (the intercept is not penalised). Class 0 is the reference, as in R's glm and
// nnet::multinom: the model has one column of coefficients per other class.
//
// Newton's method (iteratively reweighted least squares, with a backtracking line search) while
// the coefficients are few enough for their Hessian, t(X) %*% (w * X), to travel: each iteration
// is one federated step that returns the gradient, the loss and the Hessian summed over each
// site's rows. Beyond that, L-BFGS at the master, one step per loss and gradient. R's summary
// (standard errors, z and p values, deviance, null deviance, AIC) comes from the same
// aggregates.
#pragma once

#include <string>
#include <vector>

#include "common/matrix.h"
#include "master/ps/iteration_hook.h"
#include "master/tensor/federated_matrix.h"

namespace fedra {

enum class LogRegMethod { kAuto, kNewton, kLbfgs };

// Newton's method is the default up to this many coefficients ((features + intercept) x (K - 1)).
inline constexpr int64_t kNewtonMaxCoefficients = 500;

struct LogRegOptions {
  double lambda = 0.0;
  bool intercept = true;
  LogRegMethod method = LogRegMethod::kAuto;
  // Newton: stop when the Newton decrement sqrt(g' H^-1 g) of the mean loss is below this.
  // L-BFGS: stop when the largest entry of the mean loss's gradient is.
  double tolerance = 1e-8;
  int max_iterations = 0;                // 0: 25 for Newton (as R's glm), 500 for L-BFGS
  IterationHook on_iteration = nullptr;  // "objective", "log_loss", "accuracy" after each iteration
};

struct LogRegModel {
  std::vector<std::string> names;  // rows of `weights`: "(intercept)" first when fitted
  bool intercept = true;
  Matrix weights;  // one column per class but the reference class 0
  int classes = 2;
  int64_t rows = 0;
  double log_loss = 0;  // mean over the rows, without the penalty
  double accuracy = 0;  // NaN where private-aggregate sites withheld their counts
  int iterations = 0;
  std::string method;  // "newton" or "lbfgs"
  bool converged = false;
  std::vector<std::string> warnings;  // as R's: separation, no convergence
  // R's summary. Standard errors, z values and their two-sided p values (each the shape of
  // weights; empty otherwise) need the Hessian: Newton, lambda 0.
  Matrix std_errors, z_values, p_values;
  double deviance = 0;       // 2 x the summed log-loss
  double null_deviance = 0;  // of the intercept-only model (all probabilities equal without one); NaN if unknown
  double aic = 0;
  double df_residual = 0, df_null = 0;
};

Result<LogRegModel> FitLogReg(Federation& fed, const FederatedMatrix& data, const std::vector<int64_t>& features,
                              int64_t label, const LogRegOptions& options);

struct ClassificationMetrics {
  int64_t rows = 0;
  double log_loss = 0;
  double accuracy = 0;
};

// Log-loss and accuracy of `model` on other rows (a held-out split) with the same columns: one
// batch per site, aggregates only.
Result<ClassificationMetrics> EvaluateLogReg(Federation& fed, const FederatedMatrix& data,
                                             const std::vector<int64_t>& features, int64_t label,
                                             const LogRegModel& model);

}  // namespace fedra
