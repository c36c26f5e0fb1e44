// The REST API's resources under /api/v1/, independent of the transport: a request (method,
// target, bearer token, body) in, a JSON response with a meaningful HTTP status out. Where a
// resource overlaps MLflow's tracking API its shapes follow MLflow's (runs with info and data,
// metrics as key/value/timestamp/step, log-batch).
//
//   GET  health                                 liveness, versions
//   GET  openapi.json                           the OpenAPI 3 description of all of these
//   GET  algorithms                             what a job may name: parameters, defaults, docs
//   GET  sites                                  each site: online, datasets (shapes, privacy)
//   GET  audit?limit=N                          each site's newest audit events
//   GET  experiments                            experiments with run counts
//   GET  experiments/{id}/runs                  an experiment's runs, newest first
//   POST jobs                          operator submit a job spec -> {"run_id"}
//   GET  jobs                                   jobs (runs), newest first
//   GET  jobs/{id}                              one job's run
//   POST jobs/{id}/cancel              operator stop at the next iteration boundary
//   POST runs                          operator create a run for metrics logged from outside
//   GET  runs/{id}                              a run: info, params, metrics, spec, result
//   POST runs/{id}/status              operator {"status": "finished" | "failed" | ...}
//   POST runs/log-batch                operator {"run_id", "metrics": [{key, value, timestamp (s), step}],
//                                               "params": [{key, value}], "tags": [{key, value}]}
//   GET  runs/{id}/metrics/{key}?max_points=N   a metric's history, thinned
//   GET  runs/{id}/models                       model versions
//   GET  runs/{id}/models/{name}?version=V      a model's bytes
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "master/api/api_message.h"
#include "master/api/api_target.h"
#include "master/api/api_tokens.h"
#include "master/federation/federation.h"
#include "master/jobs/job_runner.h"
#include "master/tracking/experiment_db.h"

namespace fedra {

// The JSON error body and HTTP status for `s`: {"error_code": "NOT_FOUND", "message": ...}.
ApiResponse ErrorResponse(const Status& s);

class RestApi {
 public:
  RestApi(Federation& fed, ExperimentDb& db, JobRunner& runner, const ApiTokens& tokens);

  // Thread-safe; may block on the database or, for sites, on the federation.
  ApiResponse Handle(const ApiRequest& request);

  // Every resource as (method, "/runs/*/metrics/*"): what openapi.json must describe.
  static std::vector<std::pair<std::string, std::string>> Resources();

 private:
  struct ApiCall {
    const ApiTarget& target;
    const ApiRequest& request;
    const ApiPrincipal& who;
  };
  struct ApiRoute {
    std::string_view method;
    std::vector<std::string_view> pattern;  // path segments after /api/v1/; "*" matches any one
    ApiAccess access;
    Result<ApiResponse> (*handler)(RestApi& api, const ApiCall& call);
  };
  static const std::vector<ApiRoute>& Routes();

  // Picks the route for the request from Routes(): 404 and 405 follow from the table.
  Result<ApiResponse> Route(const ApiRequest& request, const ApiTarget& target, const ApiPrincipal& who);
  Result<ApiResponse> ListRuns(const ApiCall& call);
  Result<ApiResponse> GetRun(const ApiCall& call);
  Result<nlohmann::json> Sites();
  // GET /api/v1/metrics: the sites' counters (from their pings) and the runs by status, as
  // Prometheus text.
  Result<ApiResponse> Metrics();
  nlohmann::json Audit(int64_t limit);

  Federation& fed_;
  ExperimentDb& db_;
  JobRunner& runner_;
  const ApiTokens& tokens_;
};

}  // namespace fedra
