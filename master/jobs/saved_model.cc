#include "master/jobs/saved_model.h"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "federated/protocol.h"

namespace fedra {
namespace {

nlohmann::json Header(const std::string& algorithm, const std::string& dataset, int64_t run) {
  return {{"format", "fedra-model"}, {"version", 1}, {"algorithm", algorithm}, {"run_id", run}, {"dataset", dataset}};
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

std::map<std::string, nlohmann::json> SavedModels(const JobSpec& job, const nlohmann::json& result, int64_t run) {
  std::map<std::string, nlohmann::json> saved;
  if (job.IsScript()) {
    const nlohmann::json declared = result.value("models", nlohmann::json::object());
    for (const auto& [name, parts] : declared.items()) {
      saved[name] = Header(parts.value("algorithm", ""), parts.value("dataset", ""), run);
      saved[name].update(parts);
    }
    return saved;
  }
  if (std::optional<nlohmann::json> model = SavedModel(job, result, run)) saved["model"] = std::move(*model);
  return saved;
}

std::optional<nlohmann::json> SavedModel(const JobSpec& job, const nlohmann::json& result, int64_t run) {
  const std::vector<std::string>* parts = ModelParts(job.algorithm);
  if (job.IsScript() || !parts) return std::nullopt;
  nlohmann::json model = Header(job.algorithm, job.dataset, run);
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
  nlohmann::json model = Header(job.algorithm, job.dataset, run);
  model["model"] = job.model;      // as the job gave it, until the checkpoint's description
  model.update(checkpoint.model);  // says what the data resolved
  model["parameters"] =
      std::vector<float>(checkpoint.parameters.data(), checkpoint.parameters.data() + checkpoint.parameters.size());
  model["partial"] = {{"round", checkpoint.round}};
  return model;
}

namespace {

// An array of `rows` arrays of `cols` numbers (`cols` < 0: any, the same for each).
Result<Matrix> ReadRows(const nlohmann::json& doc, const std::string& where, int64_t cols) {
  if (!doc.is_array() || doc.empty()) return InvalidArgument(where + ": expected an array of rows of numbers");
  Matrix out;
  for (size_t i = 0; i < doc.size(); ++i) {
    const nlohmann::json& row = doc[i];
    if (!row.is_array() || row.empty() || (cols >= 0 && static_cast<int64_t>(row.size()) != cols) ||
        (i > 0 && static_cast<Eigen::Index>(row.size()) != out.cols())) {
      return InvalidArgument(where + "[" + std::to_string(i) + "]: expected " +
                             (cols >= 0 ? std::to_string(cols) : std::string("as many")) + " numbers");
    }
    if (i == 0) out.resize(static_cast<Eigen::Index>(doc.size()), static_cast<Eigen::Index>(row.size()));
    for (size_t j = 0; j < row.size(); ++j) {
      if (!row[j].is_number()) return InvalidArgument(where + "[" + std::to_string(i) + "]: expected numbers");
      out(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) = row[j].get<double>();
    }
  }
  return out;
}

Result<std::vector<std::string>> ReadNames(const nlohmann::json& model, const char* key, const std::string& where) {
  const auto it = model.find(key);
  if (it == model.end()) return std::vector<std::string>();
  if (!it->is_array() || !std::all_of(it->begin(), it->end(), [](const nlohmann::json& n) { return n.is_string(); })) {
    return InvalidArgument(where + "." + key + ": expected an array of names");
  }
  return it->get<std::vector<std::string>>();
}

// Coefficients as the jobs list them ({"name", "estimate"[, "class"]}, the intercept first) into
// a matrix with a column per class (but the reference, for multinomial models) and row names.
Status ReadCoefficients(const nlohmann::json& model, const std::string& where, const std::vector<std::string>& classes,
                        UsableModel* out) {
  const auto it = model.find("coefficients");
  if (it == model.end() || !it->is_array() || it->empty()) {
    return InvalidArgument(where + ".coefficients: expected the fitted coefficients");
  }
  std::vector<std::string> names, column_classes;
  std::map<std::pair<std::string, std::string>, double> estimates;  // (class, name) -> estimate
  for (const nlohmann::json& c : *it) {
    if (!c.is_object() || !c.contains("name") || !c["name"].is_string() || !c.contains("estimate") ||
        !c["estimate"].is_number()) {
      return InvalidArgument(where + ".coefficients: each needs a \"name\" and a numeric \"estimate\"");
    }
    if (c.contains("class") && !c["class"].is_string()) {
      return InvalidArgument(where + ".coefficients: \"class\" must be a class name");
    }
    const std::string name = c["name"], cls = c.value("class", "");
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    if (std::find(column_classes.begin(), column_classes.end(), cls) == column_classes.end())
      column_classes.push_back(cls);
    estimates[{cls, name}] = c["estimate"].get<double>();
  }
  if (classes.size() > 2 && column_classes.size() != classes.size() - 1) {
    return InvalidArgument(where + ".coefficients: " + std::to_string(classes.size()) + " classes need " +
                           std::to_string(classes.size() - 1) + " sets of coefficients");
  }
  out->run.intercept = names.front() == "(intercept)";
  out->parameters.resize(static_cast<Eigen::Index>(names.size()), static_cast<Eigen::Index>(column_classes.size()));
  for (size_t k = 0; k < column_classes.size(); ++k) {
    const std::string cls = classes.size() > 2 ? classes[k + 1] : column_classes[k];
    for (size_t j = 0; j < names.size(); ++j) {
      const auto e = estimates.find({cls, names[j]});
      if (e == estimates.end()) {
        return InvalidArgument(where + ".coefficients: no estimate of '" + names[j] + "' for class '" + cls + "'");
      }
      out->parameters(static_cast<Eigen::Index>(j), static_cast<Eigen::Index>(k)) = e->second;
    }
  }
  out->inputs.assign(names.begin() + (out->run.intercept ? 1 : 0), names.end());
  return Status::Ok();
}

Result<Matrix> ReadRow(const nlohmann::json& model, const char* key, const std::string& where, int64_t cols) {
  const auto it = model.find(key);
  if (it == model.end()) return InvalidArgument(where + "." + key + ": required");
  return ReadRows(nlohmann::json::array({*it}), where + "." + key, cols);
}

}  // namespace

Result<UsableModel> ReadUsableModel(const nlohmann::json& model, const std::string& where) {
  const auto text = [&](const char* key) {
    const auto it = model.find(key);
    return it != model.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  if (!model.is_object() || text("format") != "fedra-model") {
    return InvalidArgument(where +
                           ": expected a saved model (\"format\": \"fedra-model\"), as GET "
                           ".../runs/{id}/models/model serves it");
  }
  UsableModel out;
  out.algorithm = text("algorithm");
  out.label = text("label");
  if (model.contains("label") && !model["label"].is_string()) return InvalidArgument(where + ".label: expected a name");
  FEDRA_ASSIGN_OR_RETURN(out.features, ReadNames(model, "features", where));
  if (out.features.empty()) return InvalidArgument(where + ".features: the raw columns the model reads are required");
  FEDRA_ASSIGN_OR_RETURN(out.classes, ReadNames(model, "classes", where));
  FEDRA_ASSIGN_OR_RETURN(out.inputs, ReadNames(model, "inputs", where));
  const std::string& a = out.algorithm;
  if (a == "lm" || a == "lmCG" || a == "logreg") {
    out.run.kind = a == "logreg" ? ModelKind::kLogistic : ModelKind::kLinear;
    if (a == "logreg" && out.classes.size() < 2) return InvalidArgument(where + ".classes: at least two");
    FEDRA_RETURN_IF_ERROR(ReadCoefficients(model, where, out.classes, &out));
  } else if (a == "kmeans") {
    out.run.kind = ModelKind::kKMeans;
    FEDRA_ASSIGN_OR_RETURN(out.parameters, ReadRows(model.value("centers", nlohmann::json()), where + ".centers",
                                                    out.inputs.empty() ? -1 : static_cast<int64_t>(out.inputs.size())));
  } else if (a == "pca") {
    out.run.kind = ModelKind::kPca;
    const auto d = static_cast<int64_t>(out.inputs.size());
    if (d == 0) return InvalidArgument(where + ".inputs: the columns the components are over");
    FEDRA_ASSIGN_OR_RETURN(Matrix components,
                           ReadRows(model.value("components", nlohmann::json()), where + ".components", d));
    FEDRA_ASSIGN_OR_RETURN(Matrix centre, ReadRow(model, "center", where, d));
    FEDRA_ASSIGN_OR_RETURN(Matrix scale, ReadRow(model, "scale", where, d));
    out.parameters.resize(components.rows() + 2, d);
    out.parameters << centre, scale, components;
  } else if (a == "nn") {
    out.run.kind = ModelKind::kMlp;
    FEDRA_ASSIGN_OR_RETURN(out.run.mlp,
                           ParseModelSpec(model.value("model", nlohmann::json::object()), where + ".model"));
    if (out.run.mlp.inputs < 1 || out.run.mlp.outputs < 1) {
      return InvalidArgument(where + ".model: the saved layer layout names no inputs and outputs");
    }
    const auto p = model.find("parameters");
    if (p == model.end() || !p->is_array() || static_cast<int64_t>(p->size()) != out.run.mlp.parameter_count()) {
      return InvalidArgument(where + ".parameters: the model's layers take " +
                             std::to_string(out.run.mlp.parameter_count()) + " parameters");
    }
    out.parameters.resize(out.run.mlp.parameter_count(), 1);
    for (size_t i = 0; i < p->size(); ++i) {
      if (!(*p)[i].is_number()) return InvalidArgument(where + ".parameters: expected numbers");
      out.parameters(static_cast<Eigen::Index>(i), 0) = (*p)[i].get<double>();
    }
    if (out.run.mlp.output == OutputKind::kSoftmax && static_cast<int>(out.classes.size()) != out.run.mlp.outputs) {
      return InvalidArgument(where + ".classes: the softmax layer has " + std::to_string(out.run.mlp.outputs) +
                             " outputs, the model names " + std::to_string(out.classes.size()) + " classes");
    }
  } else {
    return InvalidArgument(where + ".algorithm: '" + a + "' saves no usable model (lm, lmCG, logreg, kmeans, pca, nn)");
  }
  if (out.Classifies() && out.run.kind == ModelKind::kLogistic &&
      out.parameters.cols() + 1 != static_cast<Eigen::Index>(out.classes.size())) {
    return InvalidArgument(where + ".coefficients: " + std::to_string(out.classes.size()) + " classes need " +
                           std::to_string(out.classes.size() - 1) + " sets of coefficients");
  }
  return out;
}

Result<nlohmann::json> DeclaredModel(const script::ModelDeclaration& d) {
  const std::string where = "save_model(" + d.name + ")";
  if (!IsValidDatasetName(d.name)) {
    return InvalidArgument("save_model: '" + d.name + "' is not a model name (letters, digits, _ - .)");
  }
  if (!d.values.allFinite()) return InvalidArgument(where + ": the parameters hold NaN or infinite values");
  if (d.features.empty()) return InvalidArgument(where + ": the features it takes are required");
  const auto rows = static_cast<Eigen::Index>(d.features.size());
  nlohmann::json model = {{"algorithm", d.algorithm}, {"dataset", d.dataset}, {"features", d.features}};
  if (!d.label.empty()) model["label"] = d.label;
  if (d.algorithm == "lm" || d.algorithm == "logreg") {
    if (d.label.empty()) return InvalidArgument(where + ": " + d.algorithm + " needs its label");
    std::vector<std::string> classes = d.classes;
    if (d.algorithm == "logreg" && classes.empty()) classes = {"0", "1"};
    if (d.algorithm == "lm" && !classes.empty()) return InvalidArgument(where + ": lm has no classes");
    const Eigen::Index columns = classes.size() > 2 ? static_cast<Eigen::Index>(classes.size()) - 1 : 1;
    if (d.values.rows() != rows + (d.intercept ? 1 : 0) || d.values.cols() != columns) {
      return InvalidArgument(
          where + ": " + std::to_string(d.features.size()) + " features" + (d.intercept ? " and the intercept" : "") +
          " need a " + std::to_string(rows + (d.intercept ? 1 : 0)) + " x " + std::to_string(columns) +
          " matrix of coefficients, not " + std::to_string(d.values.rows()) + " x " + std::to_string(d.values.cols()));
    }
    std::vector<std::string> names = d.features;
    if (d.intercept) names.insert(names.begin(), "(intercept)");
    nlohmann::json coefficients = nlohmann::json::array();
    for (Eigen::Index k = 0; k < columns; ++k) {
      for (Eigen::Index j = 0; j < d.values.rows(); ++j) {
        nlohmann::json c = {{"name", names[static_cast<size_t>(j)]}, {"estimate", d.values(j, k)}};
        if (columns > 1) c["class"] = classes[static_cast<size_t>(k) + 1];
        coefficients.push_back(std::move(c));
      }
    }
    model["coefficients"] = std::move(coefficients);
    if (!classes.empty()) model["classes"] = classes;
  } else if (d.algorithm == "kmeans") {
    if (d.intercept || !d.label.empty() || !d.classes.empty()) {
      return InvalidArgument(where + ": k-means takes no label, intercept or classes");
    }
    if (d.values.cols() != rows) {
      return InvalidArgument(where + ": centres over " + std::to_string(d.features.size()) + " features need " +
                             std::to_string(d.features.size()) + " columns, not " + std::to_string(d.values.cols()));
    }
    nlohmann::json centers = nlohmann::json::array();
    for (Eigen::Index i = 0; i < d.values.rows(); ++i) {
      centers.push_back(std::vector<double>(d.values.row(i).begin(), d.values.row(i).end()));
    }
    model["centers"] = std::move(centers);
  } else {
    return InvalidArgument(where + ": '" + d.algorithm + "' cannot be declared by a script (lm, logreg, kmeans)");
  }
  model["inputs"] = d.features;
  nlohmann::json document = Header(d.algorithm, d.dataset, 0);
  document.update(model);
  FEDRA_RETURN_IF_ERROR(ReadUsableModel(document, where).status());
  return model;
}

Result<nlohmann::json> SavedTransformSpec(const nlohmann::json& model, const std::vector<std::string>& columns) {
  nlohmann::json spec = model.value("transform", nlohmann::json::object());
  if (!spec.is_object()) return InvalidArgument("model.transform: expected an object");
  for (auto it = spec.begin(); it != spec.end();) {
    it = std::find(columns.begin(), columns.end(), it.key()) == columns.end() ? spec.erase(it) : std::next(it);
  }
  return spec;
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
