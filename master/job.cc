#include "master/job.h"

#include <algorithm>
#include <chrono>

#include "common/config.h"
#include "common/logging.h"
#include "master/federated_matrix.h"
#include "master/lm.h"

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

}  // namespace

std::vector<std::string> JobAlgorithms() { return {"lm", "lmCG"}; }

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
  if (!label) return InvalidArgument(d.Path("label") + ": required");
  job.label = *label;
  if (const nlohmann::json* features = d.Child("features")) {
    if (!features->is_array()) return InvalidArgument(d.Path("features") + ": expected an array of names or indices");
    job.features.assign(features->begin(), features->end());
  }
  FEDRA_RETURN_IF_ERROR(d.Finish());
  if (const nlohmann::json* params = f.Child("params")) {
    if (!params->is_object()) return InvalidArgument(f.Path("params") + ": expected an object");
    job.params = *params;
  }
  FEDRA_RETURN_IF_ERROR(f.Finish());
  if (Result<LmOptions> options = ParseLmParams(job); !options.ok()) {
    return options.status().WithContext(source);
  }
  return job;
}

Result<nlohmann::json> RunJob(Federation& fed, const JobSpec& job) {
  const auto start = std::chrono::steady_clock::now();
  FEDRA_ASSIGN_OR_RETURN(LmOptions options, ParseLmParams(job));
  FEDRA_LOG(kInfo) << job.algorithm << ": reading '" << job.dataset << "' at " << fed.site_names().size() << " sites";
  FEDRA_ASSIGN_OR_RETURN(FederatedMatrix data, FederatedMatrix::Read(fed, job.dataset));

  auto fit = [&]() -> Result<LmModel> {
    FEDRA_ASSIGN_OR_RETURN(int64_t label, ResolveColumn(job.label, data.column_names(), "data.label"));
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
    return FitLm(fed, data, features, label, options);
  };
  Result<LmModel> model = fit();
  Status cleared = data.Clear(fed);
  if (!cleared.ok()) FEDRA_LOG(kWarn) << "clearing site variables: " << cleared.message();
  if (!model.ok()) return model.status().WithContext(job.algorithm);

  nlohmann::json coefficients = nlohmann::json::object();
  for (size_t j = 0; j < model->names.size(); ++j) coefficients[model->names[j]] = model->coefficients(j);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return nlohmann::json{{"algorithm", job.algorithm},
                        {"dataset", job.dataset},
                        {"rows", model->rows},
                        {"coefficients", coefficients},
                        {"metrics", {{"r2", model->r2}, {"rmse", model->rmse}}},
                        {"iterations", model->iterations},
                        {"seconds", seconds}};
}

}  // namespace fedra
