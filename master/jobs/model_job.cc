#include "master/jobs/model_job.h"

#include <algorithm>
#include <chrono>

#include "common/config.h"
#include "common/logging.h"
#include "master/federation/site_subset.h"
#include "master/jobs/saved_model.h"
#include "master/tensor/federated_matrix.h"

namespace fedra {
namespace {

std::string List(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// The model's transform over `used` (its features, and its label when evaluating), fitted;
// nullopt when it reads numbers as they are.
Result<std::optional<Transform>> SavedTransform(const nlohmann::json& model, const std::vector<std::string>& used,
                                                const DatasetSchema& schema) {
  FEDRA_ASSIGN_OR_RETURN(const nlohmann::json spec, SavedTransformSpec(model, used));
  if (spec.empty() && schema.Categorical().empty()) return std::optional<Transform>();
  FEDRA_ASSIGN_OR_RETURN(Transform t, Transform::Parse(spec, used, schema.Categorical(), "model.transform"));
  for (const ColumnTransform& c : t.columns) {
    if (!c.fitted() || (c.categorical && !c.coded())) {
      return InvalidArgument("model.transform: column '" + c.column +
                             "' holds categories at the sites, but the model was trained on it as numbers");
    }
  }
  return std::optional<Transform>(std::move(t));
}

// The columns of `data` called `names`, as a new matrix at the sites.
Result<FederatedMatrix> Columns(Federation& fed, const FederatedMatrix& data, const std::vector<std::string>& names) {
  const std::vector<std::string>& have = data.column_names();
  std::vector<int64_t> indices;
  for (const std::string& n : names) {
    const auto it = std::find(have.begin(), have.end(), n);
    if (it == have.end()) {
      return InvalidArgument("the model reads column '" + n + "', which the data does not make (it has: " + List(have) +
                             ")");
    }
    indices.push_back(it - have.begin());
  }
  return data.SelectColumns(fed, indices);
}

// Keeps each site's part of `predicted` as dataset `job.keep_as` there: per site, its rows and
// the file it wrote.
Result<nlohmann::json> KeepAtSites(Federation& fed, const FederatedMatrix& predicted, const JobSpec& job,
                                   const UsableModel& model) {
  nlohmann::json levels = nlohmann::json::object();
  if (model.Classifies()) levels["predicted"] = model.classes;
  SiteRequests requests;
  for (const FederatedPart& part : predicted.map().parts()) {
    requests[part.site].push_back(
        Request::Keep(part.var, job.keep_as, predicted.column_names(), job.write_output, levels));
  }
  nlohmann::json sites = nlohmann::json::object();
  for (auto& [site, answer] : fed.Call(std::move(requests))) {
    const Status s = !answer.ok() ? answer.status() : answer->at(0).status;
    if (!s.ok()) return s.WithContext("site '" + site + "'");
    const nlohmann::json& meta = answer->at(0).meta;
    nlohmann::json& out = sites[site];
    out["rows"] = meta.value("rows", 0);
    if (job.write_output) {
      out["written"] = meta.value("written", nlohmann::json());
      if (meta.contains("not_written")) out["not_written"] = meta["not_written"];
    }
  }
  return nlohmann::json{{"dataset", job.keep_as}, {"columns", predicted.column_names()}, {"sites", sites}};
}

}  // namespace

Status ResolveSavedModel(ExperimentDb& db, nlohmann::json* doc) {
  if (!IsModelJob(*doc)) return Status::Ok();
  const auto model = doc->find("model");
  if (model == doc->end() || !model->is_object() || !model->contains("run")) return Status::Ok();
  JsonFields f(*model, "job: model:");
  int64_t run = 0, version = 0;
  FEDRA_RETURN_IF_ERROR(f.Required("run", &run, 1, int64_t{1} << 62));
  FEDRA_RETURN_IF_ERROR(f.Optional("version", &version, 0, int64_t{1} << 40));
  FEDRA_RETURN_IF_ERROR(f.Finish());
  Result<ModelBlob> blob = db.GetModel(run, "model", version);
  if (!blob.ok()) return blob.status().WithContext("job: model");
  Result<nlohmann::json> saved = ParseJson(std::string(blob->bytes.begin(), blob->bytes.end()), "the saved model");
  if (!saved.ok()) return saved.status().WithContext("job: model");
  *model = std::move(saved).value();
  return Status::Ok();
}

Result<std::vector<std::string>> ModelJobColumns(const JobSpec& job, const UsableModel& model) {
  const bool needs_label = job.algorithm == "evaluate" && (model.Classifies() || model.Regresses());
  if (needs_label && model.label.empty()) {
    return InvalidArgument("model.label: the model names no label to evaluate against");
  }
  if (needs_label && model.run.kind == ModelKind::kMlp && model.run.mlp.outputs > 1 && model.Regresses()) {
    return InvalidArgument("model: a network with " + std::to_string(model.run.mlp.outputs) +
                           " outputs is evaluated against one label column; evaluate takes one-output models");
  }
  std::vector<std::string> used = model.features;
  if (needs_label) used.push_back(model.label);
  return used;
}

Status CheckModelColumns(const std::string& dataset, const std::vector<std::string>& used,
                         const DatasetSchema& schema) {
  std::vector<std::string> missing;
  for (const std::string& c : used) {
    if (std::find(schema.columns.begin(), schema.columns.end(), c) == schema.columns.end()) missing.push_back(c);
  }
  if (missing.empty()) return Status::Ok();
  return InvalidArgument("data.dataset: '" + dataset + "' lacks the model's column(s) " + List(missing) +
                         " (it has: " + List(schema.columns) + ")");
}

bool IsModelJob(const nlohmann::json& doc) {
  if (!doc.is_object() || !doc.contains("algorithm") || !doc["algorithm"].is_string()) return false;
  const std::string& a = doc["algorithm"].get_ref<const std::string&>();
  return a == "evaluate" || a == "predict";
}

Result<JobSpec> ParseModelJob(const nlohmann::json& doc, const std::string& source) {
  JobSpec job;
  JsonFields f(doc, source + ":");
  FEDRA_RETURN_IF_ERROR(f.Required("algorithm", &job.algorithm));
  const bool evaluate = job.algorithm == "evaluate";
  const nlohmann::json* model = f.Child("model");
  if (!model) return InvalidArgument(f.Path("model") + ": required: the saved model to " + job.algorithm + " with");
  if (Result<UsableModel> usable = ReadUsableModel(*model, f.Path("model")); !usable.ok()) return usable.status();
  job.saved_model = *model;
  const nlohmann::json* data = f.Child("data");
  if (!data) return InvalidArgument(f.Path("data") + ": required");
  JsonFields d(*data, f.Path("data"));
  FEDRA_RETURN_IF_ERROR(d.Required("dataset", &job.dataset));
  FEDRA_RETURN_IF_ERROR(d.Finish());
  if (const nlohmann::json* params = f.Child("params")) {
    if (!evaluate) return InvalidArgument(f.Path("params") + ": predict takes no parameters");
    JsonFields p(*params, f.Path("params"));
    job.bins = kDefaultScoreBins;
    FEDRA_RETURN_IF_ERROR(p.Optional("bins", &job.bins, 2, kMaxScoreBins));
    FEDRA_RETURN_IF_ERROR(p.Finish());
  }
  if (const nlohmann::json* output = f.Child("output"); output && evaluate) {
    return InvalidArgument(f.Path("output") + ": evaluate keeps nothing at the sites (predict does)");
  } else if (output) {
    JsonFields o(*output, f.Path("output"));
    FEDRA_RETURN_IF_ERROR(o.Required("dataset", &job.keep_as));
    FEDRA_RETURN_IF_ERROR(o.Optional("write", &job.write_output));
    FEDRA_RETURN_IF_ERROR(o.Finish());
    if (!IsValidDatasetName(job.keep_as)) {
      return InvalidArgument(o.Path("dataset") + ": '" + job.keep_as +
                             "' is not a dataset name (letters, digits, '_', '-' and '.')");
    }
    if (job.keep_as == job.dataset) return InvalidArgument(o.Path("dataset") + ": must differ from data.dataset");
  } else if (!evaluate) {
    return InvalidArgument(f.Path("output") + ": required: {\"dataset\": NAME} to keep the predictions under");
  }
  FEDRA_RETURN_IF_ERROR(f.Optional("sites", &job.sites));
  FEDRA_RETURN_IF_ERROR(f.Finish());
  if (job.bins == 0) job.bins = kDefaultScoreBins;
  return job;
}

Result<nlohmann::json> RunModelJob(Federation& federation, const JobSpec& job) {
  const auto start = std::chrono::steady_clock::now();
  std::unique_ptr<SiteSubset> subset;
  if (!job.sites.empty()) {
    Result<std::unique_ptr<SiteSubset>> named = SiteSubset::Make(federation, job.sites);
    if (!named.ok()) return named.status().WithContext("sites").WithContext(job.algorithm);
    subset = std::move(named).value();
  }
  Federation& fed = subset ? *subset : federation;
  const nlohmann::json& saved = job.saved_model;
  FEDRA_ASSIGN_OR_RETURN(const UsableModel model, ReadUsableModel(saved, "model"));
  const bool evaluate = job.algorithm == "evaluate";
  FEDRA_ASSIGN_OR_RETURN(const std::vector<std::string> used, ModelJobColumns(job, model));
  const bool needs_label = used.size() > model.features.size();  // the label comes last
  auto run = [&]() -> Result<nlohmann::json> {
    FEDRA_ASSIGN_OR_RETURN(const DatasetSchema schema, ReadSchema(fed, job.dataset));
    FEDRA_RETURN_IF_ERROR(CheckModelColumns(job.dataset, used, schema));
    FEDRA_ASSIGN_OR_RETURN(std::optional<Transform> transform, SavedTransform(saved, used, schema));
    FEDRA_ASSIGN_OR_RETURN(FederatedMatrix data,
                           FederatedMatrix::Read(fed, job.dataset, used, transform ? &*transform : nullptr));
    std::vector<std::string> inputs = model.inputs;
    if (inputs.empty()) {
      inputs = data.column_names();
      if (needs_label) inputs.pop_back();
    }
    FEDRA_ASSIGN_OR_RETURN(FederatedMatrix x, Columns(fed, data, inputs));
    nlohmann::json result = {{"rows", x.rows()}};
    std::vector<std::string> sites;
    for (const FederatedPart& part : x.map().parts()) sites.push_back(part.site);
    result["sites"] = sites;
    if (evaluate) {
      std::optional<FederatedMatrix> y;
      if (needs_label) {
        FEDRA_ASSIGN_OR_RETURN(y, data.SelectColumns(fed, {data.cols() - 1}));
      }
      FEDRA_ASSIGN_OR_RETURN(result["metrics"], EvaluateModel(fed, x, y ? &*y : nullptr, model, job.bins));
      return result;
    }
    FEDRA_ASSIGN_OR_RETURN(FederatedMatrix predicted, PredictModel(fed, x, model));
    FEDRA_ASSIGN_OR_RETURN(result["output"], KeepAtSites(fed, predicted, job, model));
    FEDRA_LOG(kInfo) << "predict: kept '" << job.keep_as << "' (" << predicted.rows() << " rows) at " << sites.size()
                     << " sites";
    return result;
  };
  Result<nlohmann::json> result = run();
  if (Status s = fed.FlushReleases(); !s.ok()) FEDRA_LOG(kWarn) << "clearing site variables: " << s.message();
  if (!result.ok()) return result.status().WithContext(job.algorithm);
  (*result)["algorithm"] = job.algorithm;
  (*result)["dataset"] = job.dataset;
  (*result)["model"] = {{"algorithm", model.algorithm}, {"run_id", saved.value("run_id", nlohmann::json())}};
  (*result)["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace fedra
