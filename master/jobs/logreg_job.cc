// The "logreg" job: binomial or multinomial logistic regression by L-BFGS.
#include <cmath>

#include "master/algorithms/logreg.h"
#include "master/jobs/job.h"

namespace fedra {
namespace {

// Log-loss and, where the sites released the counts behind it, accuracy (private-aggregate
// sites withhold counts of correct predictions).
nlohmann::json ClassificationMetricsJson(double log_loss, double accuracy) {
  nlohmann::json metrics = {{"log_loss", log_loss}};
  if (std::isfinite(accuracy)) metrics["accuracy"] = accuracy;
  return metrics;
}

nlohmann::json LogRegResult(const LogRegModel& model) {
  // Binomial: one coefficient per name. Multinomial: per class, one per name.
  auto column = [&](Eigen::Index k) {
    nlohmann::json c = nlohmann::json::object();
    for (size_t j = 0; j < model.names.size(); ++j) c[model.names[j]] = model.weights(j, k);
    return c;
  };
  nlohmann::json coefficients = column(0);
  if (model.weights.cols() > 1) {
    coefficients = nlohmann::json::object();
    for (Eigen::Index k = 0; k < model.weights.cols(); ++k) coefficients[std::to_string(k)] = column(k);
  }
  return {{"rows", model.rows},
          {"classes", model.classes},
          {"coefficients", coefficients},
          {"metrics", ClassificationMetricsJson(model.log_loss, model.accuracy)},
          {"iterations", model.iterations}};
}

}  // namespace

AlgorithmInfo LogRegJob() {
  const LogRegOptions d;
  AlgorithmInfo a;
  a.name = "logreg";
  a.summary = "logistic regression by L-BFGS: binomial, or multinomial for labels 0..K-1";
  a.params = {
      {"lambda", "number", d.lambda, 0, 1e12, "L2 penalty (the intercept is not penalised)"},
      {"intercept", "boolean", d.intercept, 0, 0, "fit an intercept"},
      {"tolerance", "number", d.tolerance, 0, 1, "stop when the largest gradient entry is below this"},
      {"max_iterations", "integer", d.max_iterations, 1, 100000, "iterations at most"},
  };
  a.prepare = [](const JobSpec&, const nlohmann::json& v) -> Result<PreparedFit> {
    LogRegOptions options;
    options.lambda = v["lambda"];
    options.intercept = v["intercept"];
    options.tolerance = v["tolerance"];
    options.max_iterations = v["max_iterations"];
    return PreparedFit([options](const FitData& in) -> Result<nlohmann::json> {
      LogRegOptions o = options;
      o.on_iteration = in.on_iteration;
      FEDRA_ASSIGN_OR_RETURN(LogRegModel model, FitLogReg(in.fed, in.data, in.features, in.label, o));
      nlohmann::json result = LogRegResult(model);
      if (in.held_out) {
        FEDRA_ASSIGN_OR_RETURN(ClassificationMetrics m,
                               EvaluateLogReg(in.fed, *in.held_out, in.features, in.label, model));
        result["held_out"] = {{"rows", m.rows}, {"metrics", ClassificationMetricsJson(m.log_loss, m.accuracy)}};
      }
      return result;
    });
  };
  return a;
}

}  // namespace fedra
