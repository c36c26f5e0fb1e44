// The "logreg" job: binomial or multinomial logistic regression by Newton's method or L-BFGS.
#include <cmath>

#include "master/algorithms/logreg.h"
#include "master/jobs/coefficient_table.h"
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

// R's coefficient table, with z tests where there are standard errors; multinomial models list
// each class against the first, as nnet::multinom does.
nlohmann::json Coefficients(const LogRegModel& model, const std::vector<std::string>& classes) {
  nlohmann::json rows = nlohmann::json::array();
  for (Eigen::Index k = 0; k < model.weights.cols(); ++k) {
    const Eigen::VectorXd estimates = model.weights.col(k);
    Eigen::VectorXd std_errors, z_values, p_values;
    if (model.std_errors.size() > 0) {
      std_errors = model.std_errors.col(k);
      z_values = model.z_values.col(k);
      p_values = model.p_values.col(k);
    }
    const CoefficientTests tests{std_errors, z_values, p_values, "z_value"};
    const nlohmann::json extra =
        model.classes > 2 ? nlohmann::json{{"class", classes[static_cast<size_t>(k + 1)]}} : nlohmann::json::object();
    for (nlohmann::json& row : CoefficientTable(model.names, estimates, &tests, extra)) rows.push_back(std::move(row));
  }
  return rows;
}

// `classes` names the label's codes 0..K-1 (the job's label coding).
nlohmann::json LogRegResult(const LogRegModel& model, std::vector<std::string> classes) {
  auto number = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); };
  for (auto k = classes.size(); k < static_cast<size_t>(model.classes); ++k) classes.push_back(std::to_string(k));
  return {{"rows", model.rows},
          {"classes", classes},
          {"coefficients", Coefficients(model, classes)},
          {"summary",
           {{"deviance", model.deviance},
            {"null_deviance", number(model.null_deviance)},
            {"aic", model.aic},
            {"df_residual", model.df_residual},
            {"df_null", model.df_null}}},
          {"metrics", ClassificationMetricsJson(model.log_loss, model.accuracy)},
          {"method", model.method},
          {"iterations", model.iterations},
          {"converged", model.converged},
          {"warnings", model.warnings}};
}

LogRegMethod ParseMethod(const std::string& name) {
  if (name == "newton") return LogRegMethod::kNewton;
  if (name == "lbfgs") return LogRegMethod::kLbfgs;
  return LogRegMethod::kAuto;
}

}  // namespace

AlgorithmInfo LogRegJob() {
  const LogRegOptions d;
  AlgorithmInfo a;
  a.name = "logreg";
  a.summary =
      "logistic regression, binomial or multinomial (any labels, coded in sorted order: the first class is "
      "the reference), by Newton's method or L-BFGS";
  a.codes_label = true;
  a.params = {
      {"lambda", "number", d.lambda, 0, 1e12, "L2 penalty (the intercept is not penalised)"},
      {"intercept", "boolean", d.intercept, 0, 0, "fit an intercept"},
      {"method",
       "string",
       "auto",
       0,
       0,
       "newton, lbfgs, or auto: Newton up to " + std::to_string(kNewtonMaxCoefficients) + " coefficients",
       {"auto", "newton", "lbfgs"}},
      {"tolerance", "number", d.tolerance, 0, 1,
       "Newton: stop when the Newton decrement is below this; L-BFGS: when the largest gradient entry is"},
      {"max_iterations", "integer", d.max_iterations, 0, 100000, "iterations at most; 0: 25 (Newton), 500 (L-BFGS)"},
  };
  a.prepare = [](const JobSpec&, const nlohmann::json& v) -> Result<PreparedFit> {
    LogRegOptions options;
    options.lambda = v["lambda"];
    options.intercept = v["intercept"];
    options.method = ParseMethod(v["method"]);
    options.tolerance = v["tolerance"];
    options.max_iterations = v["max_iterations"];
    return PreparedFit([options](const FitData& in) -> Result<nlohmann::json> {
      LogRegOptions o = options;
      o.on_iteration = in.on_iteration;
      FEDRA_ASSIGN_OR_RETURN(LogRegModel model, FitLogReg(in.fed, in.data, in.features, in.label, o));
      nlohmann::json result = LogRegResult(model, in.classes);
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
