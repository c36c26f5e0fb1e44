// MLflow's tracking REST API under /api/2.0/mlflow/, over the experiment database, for the parts
// fedra shares with it: scripts written for MLflow's REST API log to and read from fedra
// unchanged. Shapes, ids (strings), times (milliseconds), statuses and error codes are MLflow's.
//
//   POST experiments/create          {name} -> {experiment_id}
//   GET  experiments/get             ?experiment_id= -> {experiment}
//   GET  experiments/get-by-name     ?experiment_name= -> {experiment}
//   POST experiments/search          {filter, order_by, max_results, page_token} -> {experiments, next_page_token}
//   POST runs/create                 {experiment_id, run_name, tags} -> {run}
//   GET  runs/get                    ?run_id= -> {run}
//   POST runs/update                 {run_id, status, run_name} -> {run_info}
//   POST runs/log-metric             {run_id, key, value, timestamp, step}
//   POST runs/log-parameter          {run_id, key, value}
//   POST runs/set-tag                {run_id, key, value}
//   POST runs/log-batch              {run_id, metrics, params, tags}
//   POST runs/search                 {experiment_ids, filter, order_by, max_results, page_token}
//                                    -> {runs, next_page_token}
//   GET  metrics/get-history         ?run_id=&metric_key= -> {metrics}
//
// Experiment "0", MLflow's default, is fedra's experiment "default".
//
// Reads take a viewer token, writes an operator's. A job's status is the master's: updating it
// is refused (cancel it through /api/v1/jobs/{id}/cancel).
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "master/api/api_message.h"
#include "master/api/api_target.h"
#include "master/api/api_tokens.h"
#include "master/tracking/experiment_db.h"

namespace fedra {

// What a log-batch carries; timestamps are read in units of `seconds_per_timestamp` (MLflow's
// are milliseconds: 0.001; fedra's /api/v1 uses seconds: 1).
struct LoggedBatch {
  std::vector<MetricPoint> metrics;
  std::map<std::string, std::string> params, tags;
};
Result<LoggedBatch> ParseLogBatch(const nlohmann::json& doc, double seconds_per_timestamp);
// Writes a batch to `run`: kNotFound when there is no such run, kInvalidArgument when a param
// would change; either way nothing of the batch is written.
Status WriteLogBatch(ExperimentDb& db, int64_t run, LoggedBatch batch);

// MLflow's error body for `s`: {"error_code": "RESOURCE_DOES_NOT_EXIST", "message"} and its status.
ApiResponse MlflowError(const Status& s);

// Answers a request whose target is under /api/2.0/mlflow/ (`target.path` after it), for `who`.
Result<ApiResponse> HandleMlflow(ExperimentDb& db, const ApiRequest& request, const ApiTarget& target,
                                 const ApiPrincipal& who);

}  // namespace fedra
