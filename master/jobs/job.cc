#include "master/jobs/job.h"

#include <algorithm>
#include <chrono>

#include "common/config.h"
#include "common/logging.h"
#include "master/federation/site_subset.h"
#include "master/jobs/model_job.h"
#include "master/jobs/registry.h"
#include "master/jobs/saved_model.h"
#include "master/jobs/script_job.h"
#include "master/tensor/federated_matrix.h"
#include "master/tensor/federated_transform.h"

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

// The transform of the `used` columns (the label last when `label` >= 0), or nullopt when they are
// numbers read as they are. Columns the sites list as categories are dummy-coded unless the spec
// says otherwise; a classifier's label is coded 0..K-1.
Result<std::optional<Transform>> PlanTransform(const JobSpec& job, const AlgorithmInfo& algorithm,
                                               const DatasetSchema& schema, const std::vector<std::string>& used,
                                               int64_t label) {
  nlohmann::json spec = job.transform.is_null() ? nlohmann::json::object() : job.transform;
  const std::string label_name = label >= 0 ? used[static_cast<size_t>(label)] : "";
  if (algorithm.codes_label && !label_name.empty()) {
    nlohmann::json& l = spec[label_name];
    if (!l.contains("coding")) l["coding"] = "label";
    if (l["coding"] != "label") {
      return InvalidArgument("data.transform." + label_name + ": " + job.algorithm +
                             " codes its label 0..K-1 (\"coding\": \"label\")");
    }
  }
  FEDRA_ASSIGN_OR_RETURN(Transform t, Transform::Parse(spec, used, schema.Categorical(), "data.transform"));
  bool needed = false;
  for (const ColumnTransform& c : t.columns) {
    const auto missing = schema.missing.find(c.column);
    if (missing != schema.missing.end() && missing->second > 0 && c.impute == Impute::kNone) {
      return InvalidArgument("data.transform." + c.column + ": the column has " + std::to_string(missing->second) +
                             " missing cells at the sites; impute them (\"impute\": \"mean\", \"median\", \"mode\" or "
                             "{\"value\": ...}) or leave the column out");
    }
    needed = needed || c.categorical || c.coded() || c.impute != Impute::kNone || c.bin != Binning::kNone ||
             c.scale != Scaling::kNone;
  }
  if (!label_name.empty() && t.columns.back().OutputNames().size() != 1) {
    return InvalidArgument("data.transform." + label_name +
                           ": the label must stay one column (code it \"label\" or "
                           "\"recode\")");
  }
  if (!needed) return std::optional<Transform>();
  return std::optional<Transform>(std::move(t));
}

// The sites a job runs on: those it names, or, for training with a quorum, those that answer when
// it starts (if at least the quorum do); null subset: every site.
struct JobSites {
  std::unique_ptr<SiteSubset> subset;
  nlohmann::json left_out = nlohmann::json::object();  // site -> why it was left out
};

Result<JobSites> ChooseSites(Federation& federation, const JobSpec& job) {
  JobSites out;
  if (!job.sites.empty()) {
    Result<std::unique_ptr<SiteSubset>> named = SiteSubset::Make(federation, job.sites);
    if (!named.ok()) return named.status().WithContext("sites").WithContext(job.algorithm);
    out.subset = std::move(named).value();
    return out;
  }
  if (!job.ps.contains("quorum") || !job.ps["quorum"].is_number_integer()) return out;
  std::vector<std::string> up;
  SiteResponses pings = federation.CallAll({Request::Ping()});
  for (const std::string& site : federation.site_names()) {
    const Result<std::vector<Response>>& r = pings.at(site);
    const Status s = !r.ok() ? r.status() : r->empty() ? Internal("no answer") : r->front().status;
    if (s.ok()) {
      up.push_back(site);
    } else {
      out.left_out[site] = s.ToString();
    }
  }
  const auto quorum = job.ps["quorum"].get<int64_t>();
  if (static_cast<int64_t>(up.size()) < quorum) {
    return Unavailable(job.algorithm + ": " + std::to_string(up.size()) + " of " +
                       std::to_string(federation.site_names().size()) + " sites answer, below the quorum of " +
                       std::to_string(quorum) + " (not answering: " + out.left_out.dump() + ")");
  }
  if (!out.left_out.empty()) {
    FEDRA_LOG(kWarn) << job.algorithm << ": going on without " << out.left_out.dump();
    FEDRA_ASSIGN_OR_RETURN(out.subset, SiteSubset::Make(federation, up));
  }
  return out;
}

}  // namespace

Result<JobSpec> ParseJobSpec(const nlohmann::json& doc, const std::string& source) {
  if (IsScriptJob(doc)) return ParseScriptJob(doc, source);
  if (IsModelJob(doc)) return ParseModelJob(doc, source);
  JobSpec job;
  JsonFields f(doc, source + ":");
  FEDRA_RETURN_IF_ERROR(f.Required("algorithm", &job.algorithm));
  const AlgorithmInfo* algorithm = FindAlgorithm(job.algorithm);
  if (!algorithm) {
    std::string list;
    for (const AlgorithmInfo& a : Algorithms()) list += (list.empty() ? "" : ", ") + a.name;
    return InvalidArgument(f.Path("algorithm") + ": unknown algorithm '" + job.algorithm + "' (known: " + list + ")");
  }
  const nlohmann::json* data = f.Child("data");
  if (!data) return InvalidArgument(f.Path("data") + ": required");
  JsonFields d(*data, f.Path("data"));
  FEDRA_RETURN_IF_ERROR(d.Required("dataset", &job.dataset));
  const nlohmann::json* label = d.Child("label");
  if (!label && algorithm->needs_label) return InvalidArgument(d.Path("label") + ": required");
  if (label) job.label = *label;
  if (const nlohmann::json* features = d.Child("features")) {
    if (!features->is_array()) return InvalidArgument(d.Path("features") + ": expected an array of names or indices");
    job.features.assign(features->begin(), features->end());
  }
  if (const nlohmann::json* transform = d.Child("transform")) {
    // Checked here for its form; against the dataset's columns when the job runs.
    std::vector<std::string> named;
    if (transform->is_object()) {
      for (const auto& [column, v] : transform->items()) named.push_back(column);
    }
    Result<Transform> parsed = Transform::Parse(*transform, named, {}, d.Path("transform"));
    if (!parsed.ok()) return parsed.status().WithContext(source);
    job.transform = *transform;
  }
  if (const nlohmann::json* holdout = d.Child("holdout")) {
    if (!algorithm->scores_held_out) {
      return InvalidArgument(d.Path("holdout") + ": " + job.algorithm + " has no held-out metric");
    }
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
  // Settings go in the algorithm's own sections: "params", or nn's "model", "optimizer", "ps".
  for (auto [key, target] :
       {std::pair{"params", &job.params}, {"model", &job.model}, {"optimizer", &job.optimizer}, {"ps", &job.ps}}) {
    const nlohmann::json* part = f.Child(key);
    if (!part) continue;
    if (!algorithm->Takes(key)) {
      std::string sections;
      for (const std::string& s : algorithm->sections) sections += (sections.empty() ? "\"" : ", \"") + s + "\"";
      return InvalidArgument(f.Path(key) + ": " + job.algorithm + " takes no \"" + key + "\" (its settings go in " +
                             sections + ")");
    }
    if (!part->is_object()) return InvalidArgument(f.Path(key) + ": expected an object");
    *target = *part;
  }
  FEDRA_RETURN_IF_ERROR(f.Optional("sites", &job.sites));
  FEDRA_RETURN_IF_ERROR(f.Finish());
  auto context = [&](const Status& s) { return s.WithContext(job.algorithm).WithContext(source); };
  nlohmann::json values = nlohmann::json::object();
  if (algorithm->Takes("params")) {
    Result<nlohmann::json> read = ReadParams(algorithm->params, job.params, "params");
    if (!read.ok()) return context(read.status());
    values = std::move(*read);
  }
  Result<PreparedFit> fit = algorithm->prepare(job, values);
  if (!fit.ok()) return context(fit.status());
  job.fit = std::move(*fit);
  return job;
}

Status CheckJobData(Federation& federation, const JobSpec& job) {
  if (job.IsScript()) return Status::Ok();
  Result<JobSites> sites = ChooseSites(federation, job);
  if (!sites.ok()) {
    const StatusCode code = sites.status().code();
    return code == StatusCode::kUnavailable || code == StatusCode::kDeadlineExceeded ? Status::Ok() : sites.status();
  }
  Federation& fed = sites->subset ? *sites->subset : federation;
  Result<DatasetSchema> schema = ReadSchema(fed, job.dataset);
  if (!schema.ok()) {
    const StatusCode code = schema.status().code();
    if (code == StatusCode::kUnavailable || code == StatusCode::kDeadlineExceeded) return Status::Ok();
    return InvalidArgument("data.dataset: " + schema.status().message());
  }
  const std::vector<std::string>& columns = schema->columns;
  if (job.UsesModel()) {
    FEDRA_ASSIGN_OR_RETURN(const UsableModel model, ReadUsableModel(job.saved_model, "model"));
    FEDRA_ASSIGN_OR_RETURN(const std::vector<std::string> used, ModelJobColumns(job, model));
    return CheckModelColumns(job.dataset, used, *schema);
  }
  if (!job.label.is_null()) FEDRA_RETURN_IF_ERROR(ResolveColumn(job.label, columns, "data.label").status());
  for (const nlohmann::json& ref : job.features) {
    FEDRA_RETURN_IF_ERROR(ResolveColumn(ref, columns, "data.features").status());
  }
  if (job.transform.is_object()) {
    for (const auto& [column, spec] : job.transform.items()) {
      FEDRA_RETURN_IF_ERROR(ResolveColumn(column, columns, "data.transform").status());
    }
  }
  return Status::Ok();
}

Result<nlohmann::json> RunJob(Federation& federation, const JobSpec& job, const IterationHook& on_iteration,
                              const TrainingRecovery* recovery) {
  const auto start = std::chrono::steady_clock::now();
  if (job.IsScript()) return RunScriptJob(federation, job, on_iteration);
  if (job.UsesModel()) return RunModelJob(federation, job);
  if (!job.fit) return FailedPrecondition(job.algorithm + ": the job was not parsed (ParseJobSpec)");
  FEDRA_ASSIGN_OR_RETURN(const JobSites sites, ChooseSites(federation, job));
  Federation& fed = sites.subset ? *sites.subset : federation;
  std::vector<std::string> covered;  // the sites whose rows the job read
  FEDRA_LOG(kInfo) << job.algorithm << ": reading '" << job.dataset << "' at " << fed.site_names().size() << " sites";
  auto fit = [&]() -> Result<nlohmann::json> {
    // Columns by name, as the sites list them (in any order at each site).
    FEDRA_ASSIGN_OR_RETURN(const DatasetSchema schema, ReadSchema(fed, job.dataset));
    const std::vector<std::string>& columns = schema.columns;
    // PCA needs no label: -1 then excludes nothing from the default features.
    int64_t label = -1;
    if (!job.label.is_null()) {
      FEDRA_ASSIGN_OR_RETURN(label, ResolveColumn(job.label, columns, "data.label"));
    }
    std::vector<int64_t> chosen;
    for (const auto& ref : job.features) {
      FEDRA_ASSIGN_OR_RETURN(int64_t j, ResolveColumn(ref, columns, "data.features"));
      if (j == label) return InvalidArgument("data.features: the label column cannot also be a feature");
      chosen.push_back(j);
    }
    if (job.features.empty()) {
      for (int64_t j = 0; j < static_cast<int64_t>(columns.size()); ++j) {
        if (j != label) chosen.push_back(j);
      }
    }
    // The sites read (and parse) only the columns the job uses: its features, then its label.
    std::vector<std::string> used;
    for (int64_t j : chosen) used.push_back(columns[j]);
    if (label >= 0) {
      used.push_back(columns[label]);
      label = static_cast<int64_t>(used.size()) - 1;
    }
    // The raw columns the model takes, in order, and its label: what using it needs.
    const std::vector<std::string> feature_names(used.begin(), used.end() - (label >= 0 ? 1 : 0));
    const std::string label_name = label >= 0 ? used.back() : "";
    FEDRA_ASSIGN_OR_RETURN(std::optional<Transform> plan,
                           PlanTransform(job, *FindAlgorithm(job.algorithm), schema, used, label));
    std::optional<Transform> fitted;
    if (plan) {
      FEDRA_ASSIGN_OR_RETURN(fitted, FitTransform(fed, job.dataset, std::move(*plan)));
    }
    FEDRA_ASSIGN_OR_RETURN(FederatedMatrix data,
                           FederatedMatrix::Read(fed, job.dataset, used, fitted ? &*fitted : nullptr));
    for (const FederatedPart& part : data.map().parts()) covered.push_back(part.site);
    // Features are every column read but the label, which is one column, the last.
    std::vector<int64_t> features;
    const int64_t width = data.cols() - (label >= 0 ? 1 : 0);
    for (int64_t j = 0; j < width; ++j) features.push_back(j);
    if (label >= 0) label = data.cols() - 1;
    std::vector<std::string> classes;
    if (fitted && label >= 0 && fitted->columns.back().coding == Coding::kLabel)
      classes = fitted->columns.back().levels;
    nlohmann::json described = {{"features", feature_names}};
    if (fitted) described["transform"] = fitted->ToJson();
    if (!label_name.empty()) described["label"] = label_name;
    auto with_transform = [&](Result<nlohmann::json> result) -> Result<nlohmann::json> {
      if (result.ok()) result->update(described);
      return result;
    };
    std::vector<std::string> late;
    for (const auto& [site, why] : sites.left_out.items()) late.push_back(site);
    if (!job.holdout) {
      return with_transform(job.fit(
          FitData{fed, data, features, label, nullptr, on_iteration, classes, late, &federation, recovery, described}));
    }
    FEDRA_ASSIGN_OR_RETURN(FederatedMatrix::Split split, data.SplitRows(fed, job.holdout->fraction, job.holdout->seed));
    FEDRA_LOG(kInfo) << job.algorithm << ": " << split.train.rows() << " training rows, " << split.held_out.rows()
                     << " held out";
    return with_transform(job.fit(FitData{fed, split.train, features, label, &split.held_out, on_iteration, classes,
                                          late, &federation, recovery, described}));
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
  (*result)["sites"] = covered;
  if (!sites.left_out.empty()) (*result)["left_out"] = sites.left_out;
  (*result)["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace fedra
