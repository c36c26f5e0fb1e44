#include "master/jobs/saved_model.h"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

namespace fedra {
namespace {

nlohmann::json Header(const JobSpec& job, int64_t run) {
  return {{"format", "fedra-model"},
          {"version", 1},
          {"algorithm", job.algorithm},
          {"run_id", run},
          {"dataset", job.dataset}};
}

// The parts of `result` each algorithm's model is made of.
const std::vector<std::string>* ModelParts(const std::string& algorithm) {
  static const std::map<std::string, std::vector<std::string>> parts = {
      {"lm", {"coefficients"}},
      {"lmCG", {"coefficients"}},
      {"logreg", {"coefficients", "classes"}},
      {"kmeans", {"centers", "columns"}},
      {"pca", {"components", "center", "scale", "columns"}},
      {"nn", {"model", "parameters", "classes"}},
  };
  const auto it = parts.find(algorithm);
  return it == parts.end() ? nullptr : &it->second;
}

}  // namespace

std::optional<nlohmann::json> SavedModel(const JobSpec& job, const nlohmann::json& result, int64_t run) {
  const std::vector<std::string>* parts = ModelParts(job.algorithm);
  if (job.IsScript() || !parts) return std::nullopt;
  nlohmann::json model = Header(job, run);
  for (const char* key : {"features", "label", "transform"}) {
    if (result.contains(key)) model[key] = result[key];
  }
  for (const std::string& part : *parts) {
    if (result.contains(part)) model[part] = result[part];
  }
  // The model's inputs after the transform: the coefficients' names (less the intercept), or the
  // columns the centres and components are over.
  nlohmann::json inputs = nlohmann::json::array();
  if (model.contains("columns")) {
    inputs = model["columns"];
    model.erase("columns");
  } else if (model.contains("coefficients")) {
    for (const nlohmann::json& c : model["coefficients"]) {
      const std::string name = c.value("name", "");
      if (name == "(intercept)" || std::find(inputs.begin(), inputs.end(), name) != inputs.end()) continue;
      inputs.push_back(name);
    }
  }
  if (!inputs.empty()) model["inputs"] = inputs;
  if (job.algorithm == "pca" && result.contains("metrics"))
    model["variances"] = result["metrics"].value("variances", nlohmann::json());
  return model;
}

std::optional<nlohmann::json> PartialModel(const JobSpec& job, const TrainingCheckpoint& checkpoint, int64_t run) {
  if (job.algorithm != "nn") return std::nullopt;
  nlohmann::json model = Header(job, run);
  model["model"] = job.model;
  model["parameters"] =
      std::vector<float>(checkpoint.parameters.data(), checkpoint.parameters.data() + checkpoint.parameters.size());
  model["partial"] = {{"round", checkpoint.round}};
  return model;
}

nlohmann::json ModelShapes(const nlohmann::json& model) {
  nlohmann::json shapes = nlohmann::json::object();
  for (const auto& [part, v] : model.items()) {
    if (!v.is_array() || part == "features" || part == "inputs") continue;
    shapes[part] = !v.empty() && v[0].is_array() ? nlohmann::json::array({v.size(), v[0].size()})
                                                 : nlohmann::json::array({v.size()});
  }
  return shapes;
}

}  // namespace fedra
