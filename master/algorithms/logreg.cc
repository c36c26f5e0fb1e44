#include "master/algorithms/logreg.h"

#include <cmath>
#include <deque>
#include <limits>

#include <Eigen/Dense>

#include "common/logging.h"
#include "master/algorithms/statistics.h"
#include "master/tensor/federated_ops.h"

namespace fedra {
namespace {

constexpr double kUnknown = std::numeric_limits<double>::quiet_NaN();

struct Evaluation {
  double objective = 0;  // mean log-loss + lambda/2 |W|^2 (no intercept)
  Matrix gradient;       // of the objective, the shape of W
  Matrix hessian;        // of the objective over W's entries (column-major); Newton only
  double log_loss = 0;
  double accuracy = 0;
  double certain_rows = 0;  // rows whose class is numerically certain; NaN where withheld
  double rows = 0;
};

// The objective at W: one federated step (with the Hessian when asked for).
class Objective {
 public:
  Objective(Federation& fed, const FederatedMatrix& x, const FederatedMatrix& y, const LogRegOptions& options)
      : fed_(fed), x_(x), y_(y), options_(options) {}

  Result<Evaluation> operator()(const Matrix& w, bool hessian) {
    std::vector<FederatedMatrix::PartOp> ops = {{LogisticStatsParams{options_.intercept}, &y_, true}};
    if (hessian) ops.push_back({LogisticHessianParams{options_.intercept}, nullptr, true});
    FEDRA_ASSIGN_OR_RETURN(std::vector<Matrix> sums, x_.SumOverParts(fed_, ops, &w));
    const Matrix& s = sums[0];
    const Eigen::Index p = w.rows();
    Evaluation e;
    e.rows = s(p + 2, 0);
    if (e.rows <= 0) return FailedPrecondition("logistic regression: no rows");
    e.log_loss = s(p, 0) / e.rows;
    e.accuracy = s(p + 1, 0) / e.rows;
    e.certain_rows = s(p + 3, 0);
    e.gradient = s.topRows(p) / e.rows;
    const Matrix penalised = Penalised(w);
    e.gradient += options_.lambda * penalised;
    e.objective = e.log_loss + 0.5 * options_.lambda * penalised.squaredNorm();
    if (hessian) {
      e.hessian = sums[1] / e.rows;
      const Matrix mask = Penalised(Matrix::Ones(w.rows(), w.cols()));
      e.hessian.diagonal() += options_.lambda * mask.reshaped();
    }
    return e;
  }

 private:
  // W without its intercept row, which the penalty leaves alone.
  Matrix Penalised(Matrix w) const {
    if (options_.intercept) w.row(0).setZero();
    return w;
  }

  Federation& fed_;
  const FederatedMatrix& x_;
  const FederatedMatrix& y_;
  const LogRegOptions& options_;
};

double Dot(const Matrix& a, const Matrix& b) { return (a.array() * b.array()).sum(); }

Status Report(const LogRegOptions& options, int iteration, const Evaluation& e) {
  FEDRA_LOG(kInfo) << "logreg iteration " << iteration << ": loss " << e.objective << ", accuracy " << e.accuracy;
  return ReportIteration(options.on_iteration, iteration,
                         {{"objective", e.objective}, {"log_loss", e.log_loss}, {"accuracy", e.accuracy}});
}

// Where an optimiser stopped.
struct Optimum {
  Matrix w;
  Evaluation at;
  int iterations = 0;
  bool converged = false;
  double criterion = 0;  // the stopping rule's value at the end
};

// The Newton step H^-1 g, with H damped towards its diagonal where it is not positive definite
// (separated data, where the loss flattens out).
Eigen::VectorXd NewtonStep(const Matrix& hessian, const Eigen::VectorXd& gradient) {
  Eigen::LDLT<Matrix> ldlt(hessian);
  const double scale = std::max(hessian.diagonal().cwiseAbs().maxCoeff(), std::numeric_limits<double>::min());
  for (double damping = 1e-12 * scale;
       !(ldlt.info() == Eigen::Success && ldlt.isPositive() && ldlt.vectorD().minCoeff() > 1e-14 * scale);
       damping *= 10) {
    Matrix damped = hessian;
    damped.diagonal().array() += damping;
    ldlt.compute(damped);
    if (damping > scale) break;
  }
  return ldlt.solve(gradient);
}

// Newton's method with a backtracking (Armijo) line search; each evaluation is one step that also
// brings the Hessian, so an accepted full step costs one batch per site.
Result<Optimum> MinimiseNewton(Objective& f, Matrix w, const LogRegOptions& options) {
  const int max_iterations = options.max_iterations > 0 ? options.max_iterations : 25;
  FEDRA_ASSIGN_OR_RETURN(Evaluation e, f(w, true));
  Optimum out;
  for (;;) {
    const Eigen::VectorXd g = e.gradient.reshaped();
    const Eigen::VectorXd step = NewtonStep(e.hessian, g);
    const double decrement2 = g.dot(step);
    out.criterion = std::sqrt(std::max(0.0, decrement2));
    if (out.criterion <= options.tolerance) {
      out.converged = true;
      break;
    }
    if (out.iterations == max_iterations) break;
    const Matrix direction = -step.reshaped(w.rows(), w.cols());
    double t = 1;
    Evaluation next;
    Matrix candidate;
    bool stalled = false;
    for (int tries = 0;; ++tries) {
      candidate = w + t * direction;
      FEDRA_ASSIGN_OR_RETURN(next, f(candidate, true));
      if (next.objective <= e.objective - 1e-4 * t * decrement2) break;
      // Within rounding of the optimum no step decreases the loss measurably: this is it.
      stalled = decrement2 <= 1e-12 * (std::abs(e.objective) + 1);
      if (stalled) break;
      if (tries == 40) return FailedPrecondition("logistic regression: the line search failed to decrease the loss");
      t *= 0.5;
    }
    if (stalled) {
      out.converged = true;
      break;
    }
    w = std::move(candidate);
    e = std::move(next);
    ++out.iterations;
    FEDRA_RETURN_IF_ERROR(Report(options, out.iterations, e));
  }
  out.w = std::move(w);
  out.at = std::move(e);
  return out;
}

// L-BFGS (memory 10) with a backtracking Armijo line search.
Result<Optimum> MinimiseLbfgs(Objective& f, Matrix w, const LogRegOptions& options) {
  const int max_iterations = options.max_iterations > 0 ? options.max_iterations : 500;
  FEDRA_ASSIGN_OR_RETURN(Evaluation e, f(w, false));
  std::deque<std::pair<Matrix, Matrix>> memory;  // (s, y) pairs, newest last
  Optimum out;
  for (;;) {
    out.criterion = e.gradient.cwiseAbs().maxCoeff();
    if (out.criterion <= options.tolerance) {
      out.converged = true;
      break;
    }
    if (out.iterations == max_iterations) break;
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
      FEDRA_ASSIGN_OR_RETURN(next, f(candidate, false));
      if (next.objective <= e.objective + 1e-4 * step * slope) break;
      if (tries == 40) return FailedPrecondition("logistic regression: the line search failed to decrease the loss");
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
    ++out.iterations;
    FEDRA_RETURN_IF_ERROR(Report(options, out.iterations, e));
    if (decrease <= 1e-15 * std::max(1.0, std::abs(e.objective))) {  // at the optimum to rounding
      out.criterion = e.gradient.cwiseAbs().maxCoeff();
      out.converged = true;
      break;
    }
  }
  out.w = std::move(w);
  out.at = std::move(e);
  return out;
}

// Deviance of the model with no features: the classes' frequencies with an intercept, equal
// probabilities without. NaN when private-aggregate sites left small classes out of the counts.
double NullDeviance(const Eigen::VectorXd& counts, double rows, bool intercept) {
  if (!intercept) return 2 * rows * std::log(static_cast<double>(counts.size()));
  if (std::abs(counts.sum() - rows) > 0.5) return kUnknown;
  double loglik = 0;
  for (double c : counts) {
    if (c > 0) loglik += c * std::log(c / rows);
  }
  return -2 * loglik;
}

// R's summary from the optimum: deviance, AIC, degrees of freedom, warnings, and standard errors
// from the Hessian where Newton's method left one and nothing was penalised.
void Summarise(const Optimum& o, const Eigen::VectorXd& counts, const LogRegOptions& options, LogRegModel* model) {
  const double rows = o.at.rows;
  const auto coefficients = static_cast<double>(o.w.size());
  model->deviance = 2 * rows * o.at.log_loss;
  model->null_deviance = NullDeviance(counts, rows, options.intercept);
  model->aic = model->deviance + 2 * coefficients;
  model->df_residual = rows - coefficients;
  model->df_null = rows - (options.intercept ? static_cast<double>(o.w.cols()) : 0);
  if (o.at.certain_rows > 0) {
    model->warnings.push_back("fitted probabilities numerically 0 or 1 occurred (" +
                              std::to_string(static_cast<int64_t>(o.at.certain_rows)) +
                              " rows): the classes are separated, so some coefficients grow without bound; "
                              "lambda > 0 keeps them finite");
  }
  if (!o.converged) {
    model->warnings.push_back("did not converge in " + std::to_string(o.iterations) + " iterations (" +
                              (model->method == "newton" ? "Newton decrement " : "largest gradient entry ") +
                              std::to_string(o.criterion) + " above the tolerance); raise max_iterations");
  }
  for (const std::string& w : model->warnings) FEDRA_LOG(kWarn) << "logreg: " << w;
  if (o.at.hessian.size() == 0 || options.lambda != 0) return;
  // Cov = (the summed loss's Hessian)^-1 = (rows x the mean's)^-1.
  Eigen::LDLT<Matrix> ldlt(o.at.hessian * rows);
  if (ldlt.info() != Eigen::Success || !ldlt.isPositive()) return;
  const Matrix covariance = ldlt.solve(Matrix::Identity(o.w.size(), o.w.size()));
  model->std_errors = covariance.diagonal().cwiseMax(0).cwiseSqrt().reshaped(o.w.rows(), o.w.cols());
  model->z_values = o.w.cwiseQuotient(model->std_errors);
  model->p_values = model->z_values.unaryExpr([](double z) { return TwoSidedZPValue(z); });
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
  const Eigen::Index o = options.intercept ? 1 : 0;
  const Eigen::Index p = x.cols() + o, k = model.classes - 1;
  if (options.intercept) model.names.push_back("(intercept)");
  for (const auto& n : x.column_names()) model.names.push_back(n);
  const bool newton = options.method == LogRegMethod::kNewton ||
                      (options.method == LogRegMethod::kAuto && p * k <= kNewtonMaxCoefficients);
  if (newton && p * k > kNewtonMaxCoefficients * 4) {
    return InvalidArgument("logreg: Newton's method with " + std::to_string(p * k) + " coefficients; at most " +
                           std::to_string(kNewtonMaxCoefficients * 4) + " (use method lbfgs)");
  }
  model.method = newton ? "newton" : "lbfgs";
  Objective objective(fed, x, y, options);
  const Matrix start = Matrix::Zero(p, k);
  FEDRA_ASSIGN_OR_RETURN(Optimum optimum,
                         newton ? MinimiseNewton(objective, start, options) : MinimiseLbfgs(objective, start, options));
  model.weights = optimum.w;
  model.iterations = optimum.iterations;
  model.converged = optimum.converged;
  model.log_loss = optimum.at.log_loss;
  model.accuracy = optimum.at.accuracy;
  Summarise(optimum, counts, options, &model);
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
  options.intercept = model.intercept;
  Objective objective(fed, x, y, options);
  FEDRA_ASSIGN_OR_RETURN(Evaluation e, objective(model.weights, false));
  return ClassificationMetrics{x.rows(), e.log_loss, e.accuracy};
}

}  // namespace fedra
