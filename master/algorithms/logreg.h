// Federated logistic regression, binomial (labels 0/1) and multinomial (labels 0..K-1), with L2
// regularisation (the intercept is not penalised), solved by L-BFGS at the master. Each
// evaluation of the loss and its gradient is one federated step: every site returns only the
// gradient summed over its rows, its summed log-loss, its correct predictions and its row count.
#pragma once

#include <string>
#include <vector>

#include "common/matrix.h"
#include "master/ps/iteration_hook.h"
#include "master/tensor/federated_matrix.h"

namespace fedra {

struct LogRegOptions {
  double lambda = 0.0;
  bool intercept = true;
  double tolerance = 1e-8;  // stop when the largest gradient entry is below this
  int max_iterations = 200;
  IterationHook on_iteration = nullptr;  // "objective", "log_loss", "accuracy" after each iteration
};

struct LogRegModel {
  std::vector<std::string> names;  // rows of `weights`: "(intercept)" first when fitted
  bool intercept = true;
  Matrix weights;  // one column (binomial) or one per class (multinomial)
  int classes = 2;
  int64_t rows = 0;
  double log_loss = 0;  // mean over the rows, without the penalty
  double accuracy = 0;
  int iterations = 0;
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
