#include "master/api/mlflow_api.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string_view>

#include "common/config.h"
#include "master/api/mlflow_runs.h"

namespace fedra {
namespace {

// MLflow's limits (mlflow/utils/validation.py), so that what fedra takes MLflow would too.
constexpr size_t kMaxKeyLength = 250;
constexpr size_t kMaxParamValueLength = 6000;
constexpr size_t kMaxTagValueLength = 8000;
constexpr size_t kMaxBatchMetrics = 1000, kMaxBatchParams = 100, kMaxBatchTags = 100;
constexpr int64_t kMaxSearchResults = 50000;
// What one search may ask for: experiments, runs read before filtering, filter text. Bounds on
// the work one request makes.
constexpr size_t kMaxSearchExperiments = 100;
constexpr int64_t kMaxRunsScanned = 200000;
constexpr size_t kMaxFilterLength = 4096;
constexpr size_t kMaxRunNameLength = 500;

ApiResponse Reply(const nlohmann::json& body) { return ApiResponse{200, "application/json", body.dump()}; }

// The request's fields: the JSON body of a POST, the query of a GET (values as strings).
Result<nlohmann::json> Fields(const ApiRequest& request, const ApiTarget& target) {
  if (request.method == "GET") {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [k, v] : target.query) out[k] = v;
    return out;
  }
  FEDRA_ASSIGN_OR_RETURN(nlohmann::json doc, ParseJson(request.body.empty() ? "{}" : request.body, "request body"));
  if (!doc.is_object()) return InvalidArgument("request body: expected a JSON object");
  return doc;
}

// A string field (MLflow sends ids as strings; numbers are taken too).
Result<std::string> Text(const nlohmann::json& doc, const char* key, bool required = true) {
  const auto it = doc.find(key);
  if (it == doc.end() || it->is_null()) {
    if (required) return InvalidArgument(std::string("Missing value for required parameter '") + key + "'");
    return std::string();
  }
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number()) return it->dump();
  return InvalidArgument(std::string("Invalid value for parameter '") + key + "': expected a string");
}

Result<int64_t> Id(const std::string& text, const char* what) {
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v <= 0) {
    return NotFound(std::string(what) + " '" + text + "' does not exist");
  }
  return v;
}

// run_id, or the older run_uuid.
Result<int64_t> RunIdOf(const nlohmann::json& doc) {
  FEDRA_ASSIGN_OR_RETURN(std::string id, Text(doc, "run_id", false));
  if (id.empty()) {
    FEDRA_ASSIGN_OR_RETURN(id, Text(doc, "run_uuid", false));
  }
  if (id.empty()) return InvalidArgument("Missing value for required parameter 'run_id'");
  return Id(id, "Run");
}

Result<int64_t> IntField(const nlohmann::json& doc, const char* key, int64_t fallback, int64_t min, int64_t max) {
  const auto it = doc.find(key);
  if (it == doc.end() || it->is_null()) return fallback;
  int64_t v = 0;
  if (it->is_number_integer()) {
    v = it->get<int64_t>();
  } else if (it->is_string()) {
    const std::string s = it->get<std::string>();
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size()) {
      return InvalidArgument(std::string("Invalid value for parameter '") + key + "': expected an integer");
    }
  } else {
    return InvalidArgument(std::string("Invalid value for parameter '") + key + "': expected an integer");
  }
  if (v < min || v > max) {
    return InvalidArgument(std::string("Invalid value ") + std::to_string(v) + " for parameter '" + key +
                           "': it must be in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  }
  return v;
}

Status CheckKey(const std::string& key, const std::string& what) {
  if (key.empty() || key.size() > kMaxKeyLength) {
    return InvalidArgument(what + " key '" + key.substr(0, 40) + "': must be 1 to " + std::to_string(kMaxKeyLength) +
                           " characters");
  }
  if (key.find("..") != std::string::npos || key.front() == '/') {
    return InvalidArgument(what + " key '" + key + "': not a valid name (no '..', no leading '/')");
  }
  return Status::Ok();
}

// [{key, value}] into `out`, each checked.
Status KeyValues(const nlohmann::json& doc, const char* field, size_t max_items, size_t max_value,
                 std::map<std::string, std::string>* out) {
  const auto it = doc.find(field);
  if (it == doc.end() || it->is_null()) return Status::Ok();
  if (!it->is_array()) return InvalidArgument(std::string(field) + ": expected an array of {key, value}");
  if (it->size() > max_items) {
    return InvalidArgument(std::string(field) + ": at most " + std::to_string(max_items) + " in one request");
  }
  for (const nlohmann::json& kv : *it) {
    if (!kv.is_object()) return InvalidArgument(std::string(field) + ": expected objects {key, value}");
    FEDRA_ASSIGN_OR_RETURN(std::string key, Text(kv, "key"));
    FEDRA_ASSIGN_OR_RETURN(std::string value, Text(kv, "value"));
    FEDRA_RETURN_IF_ERROR(CheckKey(key, field));
    if (value.size() > max_value) {
      return InvalidArgument(std::string(field) + " '" + key + "': the value is longer than " +
                             std::to_string(max_value) + " characters");
    }
    if (const auto seen = out->find(key); seen != out->end() && seen->second != value) {
      return InvalidArgument(std::string(field) + " '" + key + "' is given twice with different values");
    }
    (*out)[key] = value;
  }
  return Status::Ok();
}

Result<MetricPoint> ReadMetric(const nlohmann::json& m, const std::string& where, double seconds_per_timestamp) {
  if (!m.is_object()) return InvalidArgument(where + ": expected an object {key, value, timestamp, step}");
  if (!m.contains("key") || !m["key"].is_string()) return InvalidArgument(where + ".key: expected a string");
  const std::string key = m["key"];
  FEDRA_RETURN_IF_ERROR(CheckKey(key, "metric"));
  if (!m.contains("value") || !m["value"].is_number()) return InvalidArgument(where + ".value: expected a number");
  const double value = m["value"].get<double>();
  if (!std::isfinite(value)) return InvalidArgument(where + ".value: must be finite");
  int64_t step = 0;
  if (m.contains("step") && !m["step"].is_null()) {
    if (!m["step"].is_number_integer()) return InvalidArgument(where + ".step: expected an integer");
    step = m["step"].get<int64_t>();
  }
  double time = UnixSeconds();
  if (m.contains("timestamp") && !m["timestamp"].is_null()) {
    if (!m["timestamp"].is_number()) return InvalidArgument(where + ".timestamp: expected a number");
    time = m["timestamp"].get<double>() * seconds_per_timestamp;
  }
  return MetricPoint{key, step, value, time};
}

}  // namespace

Result<LoggedBatch> ParseLogBatch(const nlohmann::json& doc, double seconds_per_timestamp) {
  LoggedBatch batch;
  if (const auto it = doc.find("metrics"); it != doc.end() && !it->is_null()) {
    if (!it->is_array()) return InvalidArgument("metrics: expected an array");
    if (it->size() > kMaxBatchMetrics) {
      return InvalidArgument("metrics: at most " + std::to_string(kMaxBatchMetrics) + " in one batch");
    }
    for (size_t i = 0; i < it->size(); ++i) {
      FEDRA_ASSIGN_OR_RETURN(MetricPoint p,
                             ReadMetric((*it)[i], "metrics[" + std::to_string(i) + "]", seconds_per_timestamp));
      batch.metrics.push_back(std::move(p));
    }
  }
  FEDRA_RETURN_IF_ERROR(KeyValues(doc, "params", kMaxBatchParams, kMaxParamValueLength, &batch.params));
  FEDRA_RETURN_IF_ERROR(KeyValues(doc, "tags", kMaxBatchTags, kMaxTagValueLength, &batch.tags));
  return batch;
}

Status WriteLogBatch(ExperimentDb& db, int64_t run, LoggedBatch batch) {
  // Params first: a value that differs from the one logged fails before anything is written (and
  // a missing run fails there too).
  FEDRA_RETURN_IF_ERROR(db.LogParams(run, batch.params));
  FEDRA_RETURN_IF_ERROR(db.SetTags(run, batch.tags));
  return db.LogMetrics(run, std::move(batch.metrics));
}

ApiResponse MlflowError(const Status& s) {
  std::string code = "INTERNAL_ERROR";
  int http = 500;
  switch (s.code()) {
    case StatusCode::kInvalidArgument: code = "INVALID_PARAMETER_VALUE", http = 400; break;
    case StatusCode::kNotFound: code = "RESOURCE_DOES_NOT_EXIST", http = 404; break;
    case StatusCode::kAlreadyExists: code = "RESOURCE_ALREADY_EXISTS", http = 400; break;
    case StatusCode::kFailedPrecondition: code = "INVALID_STATE", http = 400; break;
    case StatusCode::kPermissionDenied: code = "PERMISSION_DENIED", http = 403; break;
    case StatusCode::kUnauthenticated: code = "UNAUTHENTICATED", http = 401; break;
    case StatusCode::kResourceExhausted: code = "RESOURCE_EXHAUSTED", http = 429; break;
    case StatusCode::kUnavailable: code = "TEMPORARILY_UNAVAILABLE", http = 503; break;
    default: break;
  }
  return ApiResponse{http, "application/json", nlohmann::json{{"error_code", code}, {"message", s.message()}}.dump()};
}

namespace {

struct MlflowCall {
  ExperimentDb& db;
  const nlohmann::json& fields;
  const ApiPrincipal& who;
};

// MLflow's default experiment, "0", is fedra's "default".
constexpr const char* kDefaultExperiment = "default";

Result<nlohmann::json> FindExperiment(ExperimentDb& db, std::string key, std::string value) {
  if (key == "id" && value == "0") key = "name", value = kDefaultExperiment;
  FEDRA_ASSIGN_OR_RETURN(nlohmann::json experiments, db.ListExperiments());
  for (const nlohmann::json& e : experiments) {
    const std::string v =
        key == "name" ? e["name"].get<std::string>() : std::to_string(e["experiment_id"].get<int64_t>());
    if (v == value) return e;
  }
  return NotFound(std::string(key == "name" ? "Experiment '" : "Experiment with id '") + value + "' does not exist");
}

// A search's "filter" (at most kMaxFilterLength) and "order_by" (an array of clauses).
struct SearchQuery {
  std::vector<FilterClause> filter;
  std::vector<OrderClause> order;
};

Result<SearchQuery> QueryOf(const nlohmann::json& fields) {
  SearchQuery query;
  FEDRA_ASSIGN_OR_RETURN(std::string filter, Text(fields, "filter", false));
  if (filter.size() > kMaxFilterLength) return InvalidArgument("filter: longer than 4096 characters");
  FEDRA_ASSIGN_OR_RETURN(query.filter, ParseFilter(filter));
  const auto it = fields.find("order_by");
  if (it == fields.end() || it->is_null()) return query;
  const nlohmann::json list = it->is_string() ? nlohmann::json::array({*it}) : *it;
  if (!list.is_array()) return InvalidArgument("order_by: expected an array of clauses such as \"metrics.rmse DESC\"");
  for (const nlohmann::json& c : list) {
    if (!c.is_string()) return InvalidArgument("order_by: expected strings");
    FEDRA_ASSIGN_OR_RETURN(OrderClause o, ParseOrderBy(c.get<std::string>()));
    query.order.push_back(std::move(o));
  }
  return query;
}

// One page of `items` from page_token (an offset), with the next page's token when there is one.
Result<nlohmann::json> Page(const nlohmann::json& fields, const nlohmann::json& items, const char* name,
                            int64_t default_size) {
  FEDRA_ASSIGN_OR_RETURN(int64_t size, IntField(fields, "max_results", default_size, 1, kMaxSearchResults));
  FEDRA_ASSIGN_OR_RETURN(std::string token, Text(fields, "page_token", false));
  int64_t offset = 0;
  if (!token.empty()) {
    const auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), offset);
    if (ec != std::errc() || end != token.data() + token.size() || offset < 0) {
      return InvalidArgument("page_token: not a token this server gave");
    }
  }
  nlohmann::json page = nlohmann::json::array();
  const auto total = static_cast<int64_t>(items.size());
  if (offset > total) return InvalidArgument("page_token: not a token this server gave");
  for (int64_t i = offset; i < std::min(total, offset + size); ++i) page.push_back(items[static_cast<size_t>(i)]);
  nlohmann::json out = {{name, page}};
  if (offset + size < total) out["next_page_token"] = std::to_string(offset + size);
  return out;
}

Result<nlohmann::json> RunOf(ExperimentDb& db, int64_t id) {
  FEDRA_ASSIGN_OR_RETURN(nlohmann::json run, db.GetRun(id));
  return MlflowRun(run);
}

using Handler = Result<ApiResponse> (*)(const MlflowCall& c);

struct MlflowRoute {
  std::string_view method, path;
  ApiAccess access;
  Handler handler;
};

Result<ApiResponse> CreateExperiment(const MlflowCall& c) {
  FEDRA_ASSIGN_OR_RETURN(std::string name, Text(c.fields, "name"));
  if (name.empty() || name.size() > 500) return InvalidArgument("name: 1 to 500 characters");
  if (const auto tags = c.fields.find("tags"); tags != c.fields.end() && tags->is_array() && !tags->empty()) {
    return InvalidArgument("tags: fedra keeps tags on runs, not experiments; set them with runs/set-tag");
  }
  FEDRA_ASSIGN_OR_RETURN(int64_t id, c.db.CreateExperiment(name));
  return Reply({{"experiment_id", std::to_string(id)}});
}

Result<ApiResponse> GetExperiment(const MlflowCall& c) {
  FEDRA_ASSIGN_OR_RETURN(std::string id, Text(c.fields, "experiment_id"));
  FEDRA_ASSIGN_OR_RETURN(nlohmann::json e, FindExperiment(c.db, "id", id));
  return Reply({{"experiment", MlflowExperiment(e)}});
}

Result<ApiResponse> GetExperimentByName(const MlflowCall& c) {
  FEDRA_ASSIGN_OR_RETURN(std::string name, Text(c.fields, "experiment_name"));
  FEDRA_ASSIGN_OR_RETURN(nlohmann::json e, FindExperiment(c.db, "name", name));
  return Reply({{"experiment", MlflowExperiment(e)}});
}

Result<ApiResponse> SearchExperimentsRoute(const MlflowCall& c) {
  FEDRA_ASSIGN_OR_RETURN(const SearchQuery query, QueryOf(c.fields));
  FEDRA_ASSIGN_OR_RETURN(nlohmann::json experiments, c.db.ListExperiments());
  FEDRA_ASSIGN_OR_RETURN(nlohmann::json found, SearchExperiments(experiments, query.filter, query.order));
  nlohmann::json shaped = nlohmann::json::array();
  for (const nlohmann::json& e : found) shaped.push_back(MlflowExperiment(e));
  FEDRA_ASSIGN_OR_RETURN(nlohmann::json page, Page(c.fields, shaped, "experiments", 1000));
  return Reply(page);
}

Result<ApiResponse> CreateRun(const MlflowCall& c) {
  NewRun run;
  run.submitted_by = c.who.name;  // the token's, not the body's user_id
  run.status = RunStatus::kRunning;
  FEDRA_ASSIGN_OR_RETURN(std::string experiment, Text(c.fields, "experiment_id", false));
  run.experiment = kDefaultExperiment;  // made when first used, as MLflow's "0" always is
  if (!experiment.empty() && experiment != "0") {
    FEDRA_ASSIGN_OR_RETURN(nlohmann::json e, FindExperiment(c.db, "id", experiment));
    run.experiment = e["name"];
  }
  FEDRA_ASSIGN_OR_RETURN(run.name, Text(c.fields, "run_name", false));
  if (run.name.size() > kMaxRunNameLength) return InvalidArgument("run_name: longer than 500 characters");
  FEDRA_RETURN_IF_ERROR(KeyValues(c.fields, "tags", kMaxBatchTags, kMaxTagValueLength, &run.tags));
  if (const auto name = run.tags.find("mlflow.runName"); name != run.tags.end()) {
    if (run.name.empty()) run.name = name->second;
    run.tags.erase(name);  // the run's name is its own field
  }
  FEDRA_ASSIGN_OR_RETURN(int64_t id, c.db.CreateRun(run));
  FEDRA_ASSIGN_OR_RETURN(nlohmann::json created, RunOf(c.db, id));
  return Reply({{"run", created}});
}

Result<ApiResponse> GetRunRoute(const MlflowCall& c) {
  FEDRA_ASSIGN_OR_RETURN(int64_t id, RunIdOf(c.fields));
  FEDRA_ASSIGN_OR_RETURN(nlohmann::json run, RunOf(c.db, id));
  return Reply({{"run", run}});
}

Result<ApiResponse> UpdateRun(const MlflowCall& c) {
  FEDRA_ASSIGN_OR_RETURN(int64_t id, RunIdOf(c.fields));
  FEDRA_ASSIGN_OR_RETURN(nlohmann::json run, c.db.GetRun(id));
  FEDRA_ASSIGN_OR_RETURN(std::string status, Text(c.fields, "status", false));
  FEDRA_ASSIGN_OR_RETURN(std::string name, Text(c.fields, "run_name", false));
  if (name.size() > kMaxRunNameLength) return InvalidArgument("run_name: longer than 500 characters");
  if (!status.empty()) {
    FEDRA_ASSIGN_OR_RETURN(RunStatus s, RunStatusFromMlflow(status));
    if (run["job"].get<bool>()) {
      return FailedPrecondition("Run '" + std::to_string(id) + "' is a job the master runs; its status is the " +
                                "master's (cancel it with POST /api/v1/jobs/" + std::to_string(id) + "/cancel)");
    }
    FEDRA_RETURN_IF_ERROR(c.db.SetRunStatus(id, s));
  }
  if (!name.empty()) FEDRA_RETURN_IF_ERROR(c.db.RenameRun(id, name));
  FEDRA_ASSIGN_OR_RETURN(nlohmann::json updated, RunOf(c.db, id));
  return Reply({{"run_info", updated["info"]}});
}

Result<ApiResponse> LogMetric(const MlflowCall& c) {
  FEDRA_ASSIGN_OR_RETURN(int64_t id, RunIdOf(c.fields));
  FEDRA_ASSIGN_OR_RETURN(MetricPoint p, ReadMetric(c.fields, "metric", 0.001));
  FEDRA_RETURN_IF_ERROR(c.db.LogMetrics(id, {std::move(p)}));
  return Reply(nlohmann::json::object());
}

Result<ApiResponse> LogParameter(const MlflowCall& c) {
  FEDRA_ASSIGN_OR_RETURN(int64_t id, RunIdOf(c.fields));
  std::map<std::string, std::string> params;
  FEDRA_RETURN_IF_ERROR(KeyValues(nlohmann::json::object({{"params", nlohmann::json::array({c.fields})}}), "params", 1,
                                  kMaxParamValueLength, &params));
  FEDRA_RETURN_IF_ERROR(c.db.LogParams(id, params));
  return Reply(nlohmann::json::object());
}

Result<ApiResponse> SetTag(const MlflowCall& c) {
  FEDRA_ASSIGN_OR_RETURN(int64_t id, RunIdOf(c.fields));
  std::map<std::string, std::string> tags;
  FEDRA_RETURN_IF_ERROR(KeyValues(nlohmann::json::object({{"tags", nlohmann::json::array({c.fields})}}), "tags", 1,
                                  kMaxTagValueLength, &tags));
  if (const auto name = tags.find("mlflow.runName"); name != tags.end()) {
    if (name->second.size() > kMaxRunNameLength) return InvalidArgument("mlflow.runName: longer than 500 characters");
    FEDRA_RETURN_IF_ERROR(c.db.RenameRun(id, name->second));
    tags.erase(name);
  }
  FEDRA_RETURN_IF_ERROR(c.db.SetTags(id, tags));
  return Reply(nlohmann::json::object());
}

Result<ApiResponse> LogBatch(const MlflowCall& c) {
  FEDRA_ASSIGN_OR_RETURN(int64_t id, RunIdOf(c.fields));
  FEDRA_ASSIGN_OR_RETURN(LoggedBatch batch, ParseLogBatch(c.fields, 0.001));
  FEDRA_RETURN_IF_ERROR(WriteLogBatch(c.db, id, std::move(batch)));
  return Reply(nlohmann::json::object());
}

Result<ApiResponse> SearchRunsRoute(const MlflowCall& c) {
  std::vector<int64_t> experiments;
  if (const auto ids = c.fields.find("experiment_ids"); ids != c.fields.end() && !ids->is_null()) {
    if (!ids->is_array()) return InvalidArgument("experiment_ids: expected an array of ids");
    if (ids->size() > kMaxSearchExperiments) {
      return InvalidArgument("experiment_ids: at most " + std::to_string(kMaxSearchExperiments) + " in one search");
    }
    for (size_t i = 0; i < ids->size(); ++i) {
      const std::string where = "experiment_ids[" + std::to_string(i) + "]";
      FEDRA_ASSIGN_OR_RETURN(std::string text, Text(nlohmann::json::object({{where, (*ids)[i]}}), where.c_str()));
      FEDRA_ASSIGN_OR_RETURN(nlohmann::json e, FindExperiment(c.db, "id", text));
      const int64_t id = e["experiment_id"];
      if (std::find(experiments.begin(), experiments.end(), id) == experiments.end()) experiments.push_back(id);
    }
  }
  if (experiments.empty()) experiments.push_back(0);  // all
  FEDRA_ASSIGN_OR_RETURN(const SearchQuery query, QueryOf(c.fields));
  nlohmann::json runs = nlohmann::json::array();
  for (int64_t e : experiments) {
    const int64_t room = kMaxRunsScanned - static_cast<int64_t>(runs.size());
    if (room <= 0) break;
    FEDRA_ASSIGN_OR_RETURN(nlohmann::json listed, c.db.ListRuns(e, room, 0));
    for (nlohmann::json& r : listed) runs.push_back(std::move(r));
  }
  FEDRA_ASSIGN_OR_RETURN(nlohmann::json found, SearchRuns(runs, query.filter, query.order));
  nlohmann::json shaped = nlohmann::json::array();
  for (const nlohmann::json& r : found) shaped.push_back(MlflowRun(r));
  FEDRA_ASSIGN_OR_RETURN(nlohmann::json page, Page(c.fields, shaped, "runs", 1000));
  return Reply(page);
}

Result<ApiResponse> MetricHistory(const MlflowCall& c) {
  FEDRA_ASSIGN_OR_RETURN(int64_t id, RunIdOf(c.fields));
  FEDRA_ASSIGN_OR_RETURN(std::string key, Text(c.fields, "metric_key"));
  FEDRA_RETURN_IF_ERROR(c.db.GetRun(id).status());
  FEDRA_ASSIGN_OR_RETURN(nlohmann::json history, c.db.MetricHistory(id, key, int64_t{1} << 40));
  nlohmann::json points = nlohmann::json::array();
  for (const nlohmann::json& p : history["metrics"]) {
    points.push_back({{"key", key},
                      {"value", p["value"]},
                      {"timestamp", static_cast<int64_t>(std::llround(p["timestamp"].get<double>() * 1000))},
                      {"step", p["step"]}});
  }
  FEDRA_ASSIGN_OR_RETURN(nlohmann::json page, Page(c.fields, points, "metrics", 25000));
  return Reply(page);
}

const std::vector<MlflowRoute>& Routes() {
  using A = ApiAccess;
  static const std::vector<MlflowRoute> routes = {
      {"POST", "experiments/create", A::kOperator, CreateExperiment},
      {"GET", "experiments/get", A::kViewer, GetExperiment},
      {"GET", "experiments/get-by-name", A::kViewer, GetExperimentByName},
      {"POST", "experiments/search", A::kViewer, SearchExperimentsRoute},
      {"GET", "experiments/search", A::kViewer, SearchExperimentsRoute},
      {"POST", "runs/create", A::kOperator, CreateRun},
      {"GET", "runs/get", A::kViewer, GetRunRoute},
      {"POST", "runs/update", A::kOperator, UpdateRun},
      {"POST", "runs/log-metric", A::kOperator, LogMetric},
      {"POST", "runs/log-parameter", A::kOperator, LogParameter},
      {"POST", "runs/set-tag", A::kOperator, SetTag},
      {"POST", "runs/log-batch", A::kOperator, LogBatch},
      {"POST", "runs/search", A::kViewer, SearchRunsRoute},
      {"GET", "metrics/get-history", A::kViewer, MetricHistory},
  };
  return routes;
}

}  // namespace

Result<ApiResponse> HandleMlflow(ExperimentDb& db, const ApiRequest& request, const ApiTarget& target,
                                 const ApiPrincipal& who) {
  std::string path;
  for (const std::string& segment : target.path) path += (path.empty() ? "" : "/") + segment;
  const MlflowRoute* chosen = nullptr;
  std::string allowed;
  for (const MlflowRoute& r : Routes()) {
    if (r.path != path) continue;
    allowed += (allowed.empty() ? "" : ", ") + std::string(r.method);
    if (r.method == request.method) chosen = &r;
  }
  if (allowed.empty()) {
    return NotFound("no MLflow endpoint " + path +
                    " here; fedra serves MLflow's tracking API for experiments, "
                    "runs, metrics, params and tags");
  }
  if (!chosen) {
    return ApiResponse{
        405, "application/json",
        nlohmann::json{{"error_code", "ENDPOINT_NOT_FOUND"},
                       {"message", request.method + " is not allowed on " + path + " (allowed: " + allowed + ")"}}
            .dump()};
  }
  if (chosen->access == ApiAccess::kOperator && who.role != ApiRole::kOperator) {
    return PermissionDenied("token '" + who.name + "' is a viewer; this needs an operator token");
  }
  FEDRA_ASSIGN_OR_RETURN(nlohmann::json fields, Fields(request, target));
  return chosen->handler(MlflowCall{db, fields, who});
}

}  // namespace fedra
