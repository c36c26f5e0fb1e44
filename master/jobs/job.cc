#include "master/jobs/job.h"

#include <algorithm>
#include <chrono>

#include "common/config.h"
#include "common/logging.h"
#include "master/jobs/registry.h"
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

}  // namespace

Result<JobSpec> ParseJobSpec(const nlohmann::json& doc, const std::string& source) {
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

Result<nlohmann::json> RunJob(Federation& fed, const JobSpec& job, const IterationHook& on_iteration) {
  const auto start = std::chrono::steady_clock::now();
  if (!job.fit) return FailedPrecondition(job.algorithm + ": the job was not parsed (ParseJobSpec)");
  FEDRA_LOG(kInfo) << job.algorithm << ": reading '" << job.dataset << "' at " << fed.site_names().size() << " sites";
  auto fit = [&]() -> Result<nlohmann::json> {
    // Columns by name, as the sites list them (in any order at each site).
    FEDRA_ASSIGN_OR_RETURN(const std::vector<std::string> columns, DatasetColumns(fed, job.dataset));
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
    std::vector<int64_t> features;
    for (int64_t j : chosen) {
      features.push_back(static_cast<int64_t>(used.size()));
      used.push_back(columns[j]);
    }
    if (label >= 0) {
      used.push_back(columns[label]);
      label = static_cast<int64_t>(used.size()) - 1;
    }
    FEDRA_ASSIGN_OR_RETURN(FederatedMatrix data, FederatedMatrix::Read(fed, job.dataset, used));
    if (!job.holdout) return job.fit(FitData{fed, data, features, label, nullptr, on_iteration});
    FEDRA_ASSIGN_OR_RETURN(FederatedMatrix::Split split, data.SplitRows(fed, job.holdout->fraction, job.holdout->seed));
    FEDRA_LOG(kInfo) << job.algorithm << ": " << split.train.rows() << " training rows, " << split.held_out.rows()
                     << " held out";
    return job.fit(FitData{fed, split.train, features, label, &split.held_out, on_iteration});
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
