// Jobs that use a saved model (saved_model.h) on a dataset at the sites, reading its columns
// with the model's own fitted transform:
//
//   {"algorithm": "evaluate", "model": {...}, "data": {"dataset": "sensors-2026"},
//    "params": {"bins": 200}, "sites": ["plant-a"]}                  (params, sites optional)
//   {"algorithm": "predict", "model": {...}, "data": {"dataset": "sensors-2026"},
//    "output": {"dataset": "sensors-2026-scored", "write": true}}
//
// "model" is the document GET .../models/model serves. Evaluate returns aggregates only
// (model_use.h). Predict leaves the model's outputs at each site as dataset output.dataset,
// kept in the site's memory for later jobs (read like any dataset, with the protection of the
// rows it came from) and, with "write", written by the site as CSV into the output folder its
// site.json names; no row comes back.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "master/algorithms/model_use.h"
#include "master/federation/federation.h"
#include "master/jobs/job.h"
#include "master/tensor/federated_matrix.h"
#include "master/tracking/experiment_db.h"

namespace fedra {

// Whether `doc` asks to evaluate or predict with a saved model.
bool IsModelJob(const nlohmann::json& doc);

// An evaluate or predict job may name its model by run ({"run": 7}, optionally "version"): puts
// the saved document from `db` in its place, so that the recorded spec says exactly what was
// used. Other jobs are left as they are.
Status ResolveSavedModel(ExperimentDb& db, nlohmann::json* job_doc);

// Checks the fields and the model document.
Result<JobSpec> ParseModelJob(const nlohmann::json& doc, const std::string& source);

// The raw columns a model job reads: the model's features, then, when evaluate scores the model
// against its label, the label. Errors name what the model lacks to be used so.
Result<std::vector<std::string>> ModelJobColumns(const JobSpec& job, const UsableModel& model);
// kInvalidArgument naming the columns of `used` that `dataset` (as `schema` lists it) lacks.
Status CheckModelColumns(const std::string& dataset, const std::vector<std::string>& used, const DatasetSchema& schema);

// {"algorithm", "dataset", "model": {"algorithm", "run_id"}, "metrics" (evaluate) or "output"
// (predict: the dataset, its columns, and per site its rows and the file written), "rows",
// "sites"}.
Result<nlohmann::json> RunModelJob(Federation& fed, const JobSpec& job);

}  // namespace fedra
