// The "lm" and "lmCG" jobs: linear regression by a direct solve or by conjugate gradient.
#include "master/algorithms/lm.h"
#include "master/jobs/coefficient_table.h"
#include "master/jobs/job.h"

namespace fedra {
namespace {

std::vector<ParamInfo> LmParams(bool conjugate_gradient) {
  const LmOptions d;
  std::vector<ParamInfo> params = {
      {"lambda", "number", d.lambda, 0, 1e12, "ridge penalty (the intercept is not penalised)"},
      {"intercept", "boolean", d.intercept, 0, 0, "fit an intercept"},
  };
  if (conjugate_gradient) {
    params.push_back({"maxi", "integer", d.max_iterations, 0, 1000000, "iterations at most; 0: 2 x (columns + 1)"});
    params.push_back({"tolerance", "number", d.tolerance, 0, 1,
                      "stop when the preconditioned residual's norm is at most tolerance x its norm at the start"});
  }
  return params;
}

// Coefficients with R's t tests, and the rest of summary.lm (unpenalised fits only).
nlohmann::json LmResult(const LmModel& model) {
  const LmSummary& s = model.summary;
  const CoefficientTests tests{s.std_errors, s.t_values, s.p_values, "t_value"};
  nlohmann::json result = {{"rows", model.rows},
                           {"coefficients", CoefficientTable(model.names, model.coefficients, &tests)},
                           {"metrics", {{"r2", model.r2}, {"rmse", model.rmse}}},
                           {"iterations", model.iterations},
                           {"converged", model.converged}};
  if (model.has_summary) {
    result["summary"] = {{"residual_standard_error", s.residual_standard_error},
                         {"df", s.df},
                         {"r2", model.r2},
                         {"adj_r2", s.adj_r2},
                         {"f_statistic", s.f_statistic},
                         {"f_df", {s.f_df1, s.f_df2}},
                         {"f_p_value", s.f_p_value}};
  }
  return result;
}

AlgorithmInfo Lm(bool conjugate_gradient) {
  AlgorithmInfo a;
  a.name = conjugate_gradient ? "lmCG" : "lm";
  a.summary = conjugate_gradient ? "linear regression by conjugate gradient, one round trip per iteration"
                                 : "linear regression by a direct solve of the normal equations";
  a.params = LmParams(conjugate_gradient);
  a.prepare = [conjugate_gradient](const JobSpec&, const nlohmann::json& v) -> Result<PreparedFit> {
    LmOptions options;
    options.conjugate_gradient = conjugate_gradient;
    options.lambda = v["lambda"];
    options.intercept = v["intercept"];
    if (conjugate_gradient) {
      options.max_iterations = v["maxi"];
      options.tolerance = v["tolerance"];
    }
    return PreparedFit([options](const FitData& in) -> Result<nlohmann::json> {
      LmOptions o = options;
      o.on_iteration = in.on_iteration;
      FEDRA_ASSIGN_OR_RETURN(LmModel model, FitLm(in.fed, in.data, in.features, in.label, o));
      nlohmann::json result = LmResult(model);
      if (in.held_out) {
        FEDRA_ASSIGN_OR_RETURN(RegressionMetrics m, EvaluateLm(in.fed, *in.held_out, in.features, in.label, model));
        result["held_out"] = {{"rows", m.rows}, {"metrics", {{"r2", m.r2}, {"rmse", m.rmse}}}};
      }
      return result;
    });
  };
  return a;
}

}  // namespace

AlgorithmInfo LmJob() { return Lm(false); }
AlgorithmInfo LmCgJob() { return Lm(true); }

}  // namespace fedra
