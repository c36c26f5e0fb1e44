#include "master/jobs/job.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "common/config.h"
#include "common/logging.h"
#include "master/algorithms/kmeans.h"
#include "master/algorithms/lm.h"
#include "master/algorithms/logreg.h"
#include "master/algorithms/pca.h"
#include "master/jobs/nn_job.h"
#include "master/tensor/federated_matrix.h"

namespace fedra {
namespace {

Result<int64_t> ResolveColumn(const nlohmann::json& ref, const std::vector<std::string>& names,
                              const std::string& what) {
  if (ref.is_number_integer()) {
    const int64_t j = ref.get<int64_t>();
    if (j < 0 || j >= static_cast<int64_t>(names.size())) {
      return InvalidArgument(what + ": column index " + std::to_string(j) + " is outside 0.." +
                             std::to_string(names.size() - 1));
    }
    return j;
  }
  if (ref.is_string()) {
    auto it = std::find(names.begin(), names.end(), ref.get<std::string>());
    if (it == names.end()) {
      std::string known;
      for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
      return InvalidArgument(what + ": unknown column '" + ref.get<std::string>() + "' (columns: " + known + ")");
    }
    return static_cast<int64_t>(it - names.begin());
  }
  return InvalidArgument(what + ": expected a column name or index, got " + ref.dump());
}

Result<LmOptions> ParseLmParams(const JobSpec& job) {
  LmOptions options;
  options.conjugate_gradient = job.algorithm == "lmCG";
  JsonFields f(job.params, "params");
  FEDRA_RETURN_IF_ERROR(f.Optional("lambda", &options.lambda, 0.0, 1e12));
  FEDRA_RETURN_IF_ERROR(f.Optional("intercept", &options.intercept));
  if (options.conjugate_gradient) {
    int64_t maxi = 0;
    FEDRA_RETURN_IF_ERROR(f.Optional("maxi", &maxi, 0, 1000000));
    FEDRA_RETURN_IF_ERROR(f.Optional("tolerance", &options.tolerance, 0.0, 1.0));
    options.max_iterations = static_cast<int>(maxi);
  }
  FEDRA_RETURN_IF_ERROR(f.Finish().WithContext(job.algorithm));
  return options;
}

Result<LogRegOptions> ParseLogRegParams(const JobSpec& job) {
  LogRegOptions options;
  JsonFields f(job.params, "params");
  int64_t max_iterations = options.max_iterations;
  FEDRA_RETURN_IF_ERROR(f.Optional("lambda", &options.lambda, 0.0, 1e12));
  FEDRA_RETURN_IF_ERROR(f.Optional("intercept", &options.intercept));
  FEDRA_RETURN_IF_ERROR(f.Optional("tolerance", &options.tolerance, 0.0, 1.0));
  FEDRA_RETURN_IF_ERROR(f.Optional("max_iterations", &max_iterations, 1, 100000));
  FEDRA_RETURN_IF_ERROR(f.Finish().WithContext(job.algorithm));
  options.max_iterations = static_cast<int>(max_iterations);
  return options;
}

Result<PcaOptions> ParsePcaParams(const JobSpec& job) {
  PcaOptions options;
  JsonFields f(job.params, "params");
  int64_t k = options.components;
  FEDRA_RETURN_IF_ERROR(f.Optional("k", &k, 1, 100000));
  FEDRA_RETURN_IF_ERROR(f.Optional("center", &options.center));
  FEDRA_RETURN_IF_ERROR(f.Optional("scale", &options.scale));
  FEDRA_RETURN_IF_ERROR(f.Finish().WithContext(job.algorithm));
  options.components = static_cast<int>(k);
  return options;
}

Result<KMeansOptions> ParseKMeansParams(const JobSpec& job) {
  KMeansOptions options;
  JsonFields f(job.params, "params");
  int64_t k = 0, restarts = options.restarts, max_iterations = options.max_iterations;
  FEDRA_RETURN_IF_ERROR(f.Required("k", &k, 1, 100000));
  FEDRA_RETURN_IF_ERROR(f.Optional("restarts", &restarts, 1, 1000));
  FEDRA_RETURN_IF_ERROR(f.Optional("max_iterations", &max_iterations, 1, 100000));
  FEDRA_RETURN_IF_ERROR(f.Optional("tolerance", &options.tolerance, 0.0, 1.0));
  int64_t seed = static_cast<int64_t>(options.seed);
  FEDRA_RETURN_IF_ERROR(f.Optional("seed", &seed, 0, int64_t{1} << 62));
  FEDRA_RETURN_IF_ERROR(f.Finish().WithContext(job.algorithm));
  options.k = static_cast<int>(k);
  options.restarts = static_cast<int>(restarts);
  options.max_iterations = static_cast<int>(max_iterations);
  options.seed = static_cast<uint64_t>(seed);
  return options;
}

// Checks the parameters for the job's algorithm without running anything.
Status CheckParams(const JobSpec& job) {
  if (job.algorithm == "logreg") return ParseLogRegParams(job).status();
  if (job.algorithm == "kmeans") return ParseKMeansParams(job).status();
  if (job.algorithm == "pca") return ParsePcaParams(job).status();
  if (job.algorithm == "nn") return CheckNnJob(job);
  return ParseLmParams(job).status();
}

nlohmann::json LmResult(const LmModel& model) {
  nlohmann::json coefficients = nlohmann::json::object();
  for (size_t j = 0; j < model.names.size(); ++j) coefficients[model.names[j]] = model.coefficients(j);
  return {{"rows", model.rows},
          {"coefficients", coefficients},
          {"metrics", {{"r2", model.r2}, {"rmse", model.rmse}}},
          {"iterations", model.iterations}};
}

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

Result<nlohmann::json> FitPcaJob(Federation& fed, const JobSpec& job, const FederatedMatrix& data,
                                 const std::vector<int64_t>& features) {
  FEDRA_ASSIGN_OR_RETURN(PcaOptions options, ParsePcaParams(job));
  FEDRA_ASSIGN_OR_RETURN(FederatedMatrix x, data.SelectColumns(fed, features));
  FEDRA_ASSIGN_OR_RETURN(PcaModel model, FitPca(fed, x, options));
  // The projection stays at the sites; a one-shot job shows its shape and then releases it.
  FEDRA_ASSIGN_OR_RETURN(FederatedMatrix projected, ProjectPca(fed, x, model));
  nlohmann::json parts = nlohmann::json::array();
  for (const FederatedPart& p : projected.map().parts()) {
    parts.push_back({{"site", p.site}, {"rows", {p.range.begin, p.range.end}}});
  }
  nlohmann::json components = nlohmann::json::object();
  for (Eigen::Index c = 0; c < model.components.cols(); ++c) {
    nlohmann::json loadings = nlohmann::json::object();
    for (size_t j = 0; j < x.column_names().size(); ++j) loadings[x.column_names()[j]] = model.components(j, c);
    components["PC" + std::to_string(c + 1)] = loadings;
  }
  std::vector<double> ratio(model.explained_ratio.data(), model.explained_ratio.data() + model.explained_ratio.size());
  std::vector<double> variances(model.variances.data(), model.variances.data() + model.variances.size());
  return nlohmann::json{{"rows", x.rows()},
                        {"components", components},
                        {"metrics", {{"explained_variance_ratio", ratio}, {"variances", variances}}},
                        {"projection", {{"rows", projected.rows()}, {"cols", projected.cols()}, {"parts", parts}}},
                        {"iterations", 0}};
}

Result<nlohmann::json> FitKMeansJob(Federation& fed, const JobSpec& job, const FederatedMatrix& data,
                                    const std::vector<int64_t>& features, const FederatedMatrix* held_out,
                                    const IterationHook& on_iteration) {
  FEDRA_ASSIGN_OR_RETURN(KMeansOptions options, ParseKMeansParams(job));
  options.on_iteration = on_iteration;
  FEDRA_ASSIGN_OR_RETURN(FederatedMatrix x, data.SelectColumns(fed, features));
  FEDRA_ASSIGN_OR_RETURN(KMeansModel model, FitKMeans(fed, x, options));
  nlohmann::json centers = nlohmann::json::array();
  for (Eigen::Index c = 0; c < model.centers.rows(); ++c) {
    nlohmann::json center = nlohmann::json::object();
    for (size_t j = 0; j < x.column_names().size(); ++j) center[x.column_names()[j]] = model.centers(c, j);
    centers.push_back(center);
  }
  nlohmann::json result = {{"rows", x.rows()},
                           {"centers", centers},
                           {"sizes", std::vector<double>(model.sizes.data(), model.sizes.data() + model.sizes.size())},
                           {"metrics", {{"inertia", model.inertia}, {"restart_inertias", model.restart_inertias}}},
                           {"converged", model.converged},
                           {"iterations", model.iterations}};
  if (held_out) {
    FEDRA_ASSIGN_OR_RETURN(FederatedMatrix test, held_out->SelectColumns(fed, features));
    FEDRA_ASSIGN_OR_RETURN(double inertia, KMeansInertia(fed, test, model.centers));
    result["held_out"] = {{"rows", test.rows()}, {"metrics", {{"inertia", inertia}}}};
  }
  return result;
}

// Fits the job's algorithm on `data`; with `held_out`, also scores the model on those rows.
Result<nlohmann::json> Fit(Federation& fed, const JobSpec& job, const FederatedMatrix& data,
                           const std::vector<int64_t>& features, int64_t label, const FederatedMatrix* held_out,
                           const IterationHook& on_iteration) {
  if (job.algorithm == "pca") return FitPcaJob(fed, job, data, features);
  if (job.algorithm == "nn") return FitNnJob(fed, job, data, features, label, held_out, on_iteration);
  if (job.algorithm == "kmeans") return FitKMeansJob(fed, job, data, features, held_out, on_iteration);
  if (job.algorithm == "logreg") {
    FEDRA_ASSIGN_OR_RETURN(LogRegOptions options, ParseLogRegParams(job));
    options.on_iteration = on_iteration;
    FEDRA_ASSIGN_OR_RETURN(LogRegModel model, FitLogReg(fed, data, features, label, options));
    nlohmann::json result = LogRegResult(model);
    if (held_out) {
      FEDRA_ASSIGN_OR_RETURN(ClassificationMetrics m, EvaluateLogReg(fed, *held_out, features, label, model));
      result["held_out"] = {{"rows", m.rows}, {"metrics", ClassificationMetricsJson(m.log_loss, m.accuracy)}};
    }
    return result;
  }
  FEDRA_ASSIGN_OR_RETURN(LmOptions options, ParseLmParams(job));
  options.on_iteration = on_iteration;
  FEDRA_ASSIGN_OR_RETURN(LmModel model, FitLm(fed, data, features, label, options));
  nlohmann::json result = LmResult(model);
  if (held_out) {
    FEDRA_ASSIGN_OR_RETURN(RegressionMetrics m, EvaluateLm(fed, *held_out, features, label, model));
    result["held_out"] = {{"rows", m.rows}, {"metrics", {{"r2", m.r2}, {"rmse", m.rmse}}}};
  }
  return result;
}

}  // namespace

std::vector<std::string> JobAlgorithms() { return {"lm", "lmCG", "logreg", "kmeans", "pca", "nn"}; }

Result<JobSpec> ParseJobSpec(const nlohmann::json& doc, const std::string& source) {
  JobSpec job;
  JsonFields f(doc, source + ":");
  FEDRA_RETURN_IF_ERROR(f.Required("algorithm", &job.algorithm));
  const auto known = JobAlgorithms();
  if (std::find(known.begin(), known.end(), job.algorithm) == known.end()) {
    std::string list;
    for (const auto& a : known) list += (list.empty() ? "" : ", ") + a;
    return InvalidArgument(f.Path("algorithm") + ": unknown algorithm '" + job.algorithm + "' (known: " + list + ")");
  }
  const nlohmann::json* data = f.Child("data");
  if (!data) return InvalidArgument(f.Path("data") + ": required");
  JsonFields d(*data, f.Path("data"));
  FEDRA_RETURN_IF_ERROR(d.Required("dataset", &job.dataset));
  const nlohmann::json* label = d.Child("label");
  const bool unsupervised = job.algorithm == "pca" || job.algorithm == "kmeans";
  if (!label && !unsupervised) return InvalidArgument(d.Path("label") + ": required");
  if (label) job.label = *label;
  if (const nlohmann::json* features = d.Child("features")) {
    if (!features->is_array()) return InvalidArgument(d.Path("features") + ": expected an array of names or indices");
    job.features.assign(features->begin(), features->end());
  }
  if (const nlohmann::json* holdout = d.Child("holdout")) {
    if (job.algorithm == "pca") return InvalidArgument(d.Path("holdout") + ": pca has no held-out metric");
    JsonFields h(*holdout, d.Path("holdout"));
    double fraction = 0;
    int64_t seed = 1;
    FEDRA_RETURN_IF_ERROR(h.Required("fraction", &fraction, 0, 1));
    if (fraction <= 0 || fraction >= 1) {
      return InvalidArgument(h.Path("fraction") + ": must be above 0 and below 1, got " + std::to_string(fraction));
    }
    FEDRA_RETURN_IF_ERROR(h.Optional("seed", &seed, 0, int64_t{1} << 62));
    FEDRA_RETURN_IF_ERROR(h.Finish());
    job.holdout = Holdout{fraction, static_cast<uint64_t>(seed)};
  }
  FEDRA_RETURN_IF_ERROR(d.Finish());
  for (auto [key, target] : {std::pair{"model", &job.model}, {"optimizer", &job.optimizer}, {"ps", &job.ps}}) {
    const nlohmann::json* part = f.Child(key);
    if (!part) continue;
    if (job.algorithm != "nn") return InvalidArgument(f.Path(key) + ": only for the nn algorithm");
    if (!part->is_object()) return InvalidArgument(f.Path(key) + ": expected an object");
    *target = *part;
  }
  if (const nlohmann::json* params = f.Child("params")) {
    if (!params->is_object()) return InvalidArgument(f.Path("params") + ": expected an object");
    job.params = *params;
  }
  FEDRA_RETURN_IF_ERROR(f.Finish());
  if (Status params = CheckParams(job); !params.ok()) return params.WithContext(source);
  return job;
}

Result<nlohmann::json> RunJob(Federation& fed, const JobSpec& job, const IterationHook& on_iteration) {
  const auto start = std::chrono::steady_clock::now();
  FEDRA_RETURN_IF_ERROR(CheckParams(job));
  FEDRA_LOG(kInfo) << job.algorithm << ": reading '" << job.dataset << "' at " << fed.site_names().size() << " sites";
  auto fit = [&]() -> Result<nlohmann::json> {
    FEDRA_ASSIGN_OR_RETURN(FederatedMatrix data, FederatedMatrix::Read(fed, job.dataset));
    // PCA needs no label: -1 then excludes nothing from the default features.
    int64_t label = -1;
    if (!job.label.is_null()) {
      FEDRA_ASSIGN_OR_RETURN(label, ResolveColumn(job.label, data.column_names(), "data.label"));
    }
    std::vector<int64_t> features;
    for (const auto& ref : job.features) {
      FEDRA_ASSIGN_OR_RETURN(int64_t j, ResolveColumn(ref, data.column_names(), "data.features"));
      if (j == label) return InvalidArgument("data.features: the label column cannot also be a feature");
      features.push_back(j);
    }
    if (job.features.empty()) {
      for (int64_t j = 0; j < data.cols(); ++j) {
        if (j != label) features.push_back(j);
      }
    }
    if (!job.holdout) return Fit(fed, job, data, features, label, nullptr, on_iteration);
    FEDRA_ASSIGN_OR_RETURN(FederatedMatrix::Split split, data.SplitRows(fed, job.holdout->fraction, job.holdout->seed));
    FEDRA_LOG(kInfo) << job.algorithm << ": " << split.train.rows() << " training rows, " << split.held_out.rows()
                     << " held out";
    return Fit(fed, job, split.train, features, label, &split.held_out, on_iteration);
  };
  (void)fed.TakeNoiseReport();  // only this job's releases
  Result<nlohmann::json> result = fit();
  // A job leaves nothing at the sites: clear what it released now rather than with the next job.
  if (Status s = fed.FlushReleases(); !s.ok()) FEDRA_LOG(kWarn) << "clearing site variables: " << s.message();
  if (!result.ok()) return result.status().WithContext(job.algorithm);
  // Results from dp-aggregate data say what noise the sites added, and what it cost them.
  if (nlohmann::json noise = fed.TakeNoiseReport(); !noise.empty()) (*result)["privacy"] = {{"noise", noise}};
  (*result)["algorithm"] = job.algorithm;
  (*result)["dataset"] = job.dataset;
  (*result)["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace fedra
