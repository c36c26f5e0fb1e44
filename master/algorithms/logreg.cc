#include "master/algorithms/logreg.h"

#include <cmath>
#include <deque>

#include "common/logging.h"
#include "master/tensor/federated_ops.h"

namespace fedra {
namespace {

struct Evaluation {
  double objective = 0;  // mean log-loss + lambda/2 |W|^2 (no intercept)
  Matrix gradient;
  double log_loss = 0;
  double accuracy = 0;
};

class Objective {
 public:
  Objective(Federation& fed, const FederatedMatrix& x, const FederatedMatrix& y, const LogRegOptions& options)
      : fed_(fed), x_(x), y_(y), options_(options) {}

  Result<Evaluation> operator()(const Matrix& w) {
    const FederatedMatrix::PartOp op{LogisticStatsParams{options_.intercept}, &y_, true};
    FEDRA_ASSIGN_OR_RETURN(std::vector<Matrix> sums, x_.SumOverParts(fed_, {op}, &w));
    const Matrix& s = sums[0];
    const double n = s(w.rows() + 2, 0);
    if (n <= 0) return FailedPrecondition("logistic regression: no rows");
    Evaluation e;
    e.log_loss = s(w.rows(), 0) / n;
    e.accuracy = s(w.rows() + 1, 0) / n;
    e.gradient = s.topRows(w.rows()) / n;
    Matrix penalised = w;
    if (options_.intercept) penalised.row(0).setZero();
    e.gradient += options_.lambda * penalised;
    e.objective = e.log_loss + 0.5 * options_.lambda * penalised.squaredNorm();
    ++evaluations_;
    return e;
  }
  int evaluations() const { return evaluations_; }

 private:
  Federation& fed_;
  const FederatedMatrix& x_;
  const FederatedMatrix& y_;
  const LogRegOptions& options_;
  int evaluations_ = 0;
};

double Dot(const Matrix& a, const Matrix& b) { return (a.array() * b.array()).sum(); }

// L-BFGS (memory 10) with a backtracking Armijo line search.
Result<Matrix> Minimise(Objective& f, Matrix w, const LogRegOptions& options, Evaluation* last, int* iterations) {
  FEDRA_ASSIGN_OR_RETURN(Evaluation e, f(w));
  std::deque<std::pair<Matrix, Matrix>> memory;  // (s, y) pairs, newest last
  int it = 0;
  for (; it < options.max_iterations && e.gradient.cwiseAbs().maxCoeff() > options.tolerance; ++it) {
    // Two-loop recursion for the search direction.
    Matrix q = e.gradient;
    std::vector<double> alphas(memory.size());
    for (size_t j = memory.size(); j-- > 0;) {
      const auto& [s, y] = memory[j];
      alphas[j] = Dot(s, q) / Dot(y, s);
      q -= alphas[j] * y;
    }
    if (!memory.empty()) q *= Dot(memory.back().first, memory.back().second) / memory.back().second.squaredNorm();
    for (size_t j = 0; j < memory.size(); ++j) {
      const auto& [s, y] = memory[j];
      q += (alphas[j] - Dot(y, q) / Dot(y, s)) * s;
    }
    Matrix direction = -q;
    double slope = Dot(direction, e.gradient);
    if (slope >= 0) {  // not a descent direction: restart from the gradient
      memory.clear();
      direction = -e.gradient;
      slope = Dot(direction, e.gradient);
    }
    double step = memory.empty() ? std::min(1.0, 1.0 / e.gradient.cwiseAbs().sum()) : 1.0;
    Evaluation next;
    Matrix candidate;
    for (int tries = 0;; ++tries) {
      candidate = w + step * direction;
      FEDRA_ASSIGN_OR_RETURN(next, f(candidate));
      if (next.objective <= e.objective + 1e-4 * step * slope) break;
      if (tries == 40) return FailedPrecondition("logistic regression: line search failed to decrease the loss");
      step *= 0.5;
    }
    Matrix s = candidate - w, y = next.gradient - e.gradient;
    if (Dot(s, y) > 1e-12) {
      memory.emplace_back(std::move(s), std::move(y));
      if (memory.size() > 10) memory.pop_front();
    }
    const double decrease = e.objective - next.objective;
    w = std::move(candidate);
    e = std::move(next);
    FEDRA_LOG(kInfo) << "logreg iteration " << it + 1 << ": loss " << e.objective << ", accuracy " << e.accuracy;
    FEDRA_RETURN_IF_ERROR(
        ReportIteration(options.on_iteration, it + 1,
                        {{"objective", e.objective}, {"log_loss", e.log_loss}, {"accuracy", e.accuracy}}));
    if (decrease <= 1e-15 * std::max(1.0, std::abs(e.objective))) {
      ++it;
      break;
    }
  }
  *last = e;
  *iterations = it;
  return w;
}

}  // namespace

Result<LogRegModel> FitLogReg(Federation& fed, const FederatedMatrix& data, const std::vector<int64_t>& features,
                              int64_t label, const LogRegOptions& options) {
  if (features.empty()) return InvalidArgument("logreg: no feature columns");
  if (options.lambda < 0) return InvalidArgument("logreg: lambda must be >= 0");
  FEDRA_ASSIGN_OR_RETURN(FederatedMatrix x, data.SelectColumns(fed, features));
  FEDRA_ASSIGN_OR_RETURN(FederatedMatrix y, data.SelectColumns(fed, {label}));
  FEDRA_ASSIGN_OR_RETURN(Eigen::VectorXd counts, ClassCounts(fed, y));
  if (counts.size() < 2)
    return InvalidArgument("logreg: the labels hold fewer than two classes (codes 0..K-1, K >= 2)");
  LogRegModel model;
  model.classes = static_cast<int>(counts.size());
  model.rows = x.rows();
  model.intercept = options.intercept;
  const Eigen::Index k = model.classes == 2 ? 1 : model.classes;
  const Eigen::Index o = options.intercept ? 1 : 0;
  if (options.intercept) model.names.push_back("(intercept)");
  for (const auto& n : x.column_names()) model.names.push_back(n);
  Objective objective(fed, x, y, options);
  Evaluation last;
  FEDRA_ASSIGN_OR_RETURN(model.weights,
                         Minimise(objective, Matrix::Zero(x.cols() + o, k), options, &last, &model.iterations));
  model.log_loss = last.log_loss;
  model.accuracy = last.accuracy;
  return model;
}

Result<ClassificationMetrics> EvaluateLogReg(Federation& fed, const FederatedMatrix& data,
                                             const std::vector<int64_t>& features, int64_t label,
                                             const LogRegModel& model) {
  if (static_cast<Eigen::Index>(features.size()) + (model.intercept ? 1 : 0) != model.weights.rows()) {
    return InvalidArgument("logreg: the model has " + std::to_string(model.weights.rows()) + " weight rows for " +
                           std::to_string(features.size()) + " features");
  }
  FEDRA_ASSIGN_OR_RETURN(FederatedMatrix x, data.SelectColumns(fed, features));
  FEDRA_ASSIGN_OR_RETURN(FederatedMatrix y, data.SelectColumns(fed, {label}));
  LogRegOptions options;
  options.lambda = 0;
  options.intercept = model.intercept;
  Objective objective(fed, x, y, options);
  FEDRA_ASSIGN_OR_RETURN(Evaluation e, objective(model.weights));
  return ClassificationMetrics{x.rows(), e.log_loss, e.accuracy};
}

}  // namespace fedra
