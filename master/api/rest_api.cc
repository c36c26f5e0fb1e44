#include "master/api/rest_api.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <vector>

#include "common/config.h"
#include "common/logging.h"
#include "master/api/mlflow_api.h"
#include "master/api/mlflow_runs.h"
#include "master/api/openapi_document.h"
#include "master/jobs/registry.h"
#include "master/onnx/onnx_export.h"

namespace fedra {
namespace {

constexpr int64_t kDefaultListLimit = 100;
constexpr int64_t kMaxListLimit = 10000;

int HttpStatus(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return 200;
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kUnauthenticated: return 401;
    case StatusCode::kPermissionDenied: return 403;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kFailedPrecondition:
    case StatusCode::kAlreadyExists:
    case StatusCode::kCancelled: return 409;
    case StatusCode::kResourceExhausted: return 413;
    case StatusCode::kUnavailable: return 503;
    case StatusCode::kDeadlineExceeded: return 504;
    case StatusCode::kDataLoss:
    case StatusCode::kInternal: return 500;
  }
  return 500;
}

ApiResponse Json(int status, const nlohmann::json& body) {
  return ApiResponse{status, "application/json", body.dump()};
}

// The whole of `text` as a decimal integer, if it is one.
std::optional<int64_t> WholeInteger(const std::string& text) {
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

Result<int64_t> ParseId(const std::string& text, const std::string& what) {
  const std::optional<int64_t> v = WholeInteger(text);
  if (!v || *v <= 0) return InvalidArgument(what + ": expected a positive integer, got '" + text + "'");
  return *v;
}

Result<int64_t> QueryInt(const ApiTarget& t, const std::string& key, int64_t fallback, int64_t min, int64_t max) {
  auto it = t.query.find(key);
  if (it == t.query.end()) return fallback;
  const std::optional<int64_t> v = WholeInteger(it->second);
  if (!v || *v < min || *v > max) {
    return InvalidArgument(key + ": expected an integer in [" + std::to_string(min) + ", " + std::to_string(max) +
                           "], got '" + it->second + "'");
  }
  return *v;
}

Result<nlohmann::json> ParseBody(const std::string& body) {
  FEDRA_ASSIGN_OR_RETURN(nlohmann::json doc, ParseJson(body, "request body"));
  if (!doc.is_object()) return InvalidArgument("request body: expected a JSON object");
  return doc;
}

Status RequireOperator(const ApiPrincipal& who) {
  if (who.role == ApiRole::kOperator) return Status::Ok();
  return PermissionDenied("token '" + who.name + "' is a viewer; this needs an operator token");
}

// MLflow's run shape, in fedra's units (seconds): {"info": {...}, "data": {"metrics": [{key,
// value, step, timestamp}], "params": [...], "tags": [...]}} plus fedra's spec and result.
nlohmann::json RunResource(const nlohmann::json& run) {
  nlohmann::json info = run;
  const nlohmann::json params = KeyValueList(run.value("params", nlohmann::json::object()));
  const nlohmann::json tags = KeyValueList(run.value("tags", nlohmann::json::object()));
  const nlohmann::json metrics = run.value("metric_points", nlohmann::json::array());  // key, value, step, timestamp
  for (const char* key : {"metrics", "metric_points", "params", "tags", "spec", "result"}) info.erase(key);
  nlohmann::json out = {{"info", info}, {"data", {{"metrics", metrics}, {"params", params}, {"tags", tags}}}};
  if (run.contains("spec")) out["spec"] = run["spec"];
  if (run.contains("result")) out["result"] = run["result"];
  return out;
}

}  // namespace

ApiResponse ErrorResponse(const Status& s) {
  std::string code(StatusCodeName(s.code()));
  for (char& c : code) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return Json(HttpStatus(s.code()), {{"error_code", code}, {"message", s.message()}});
}

RestApi::RestApi(Federation& fed, ExperimentDb& db, JobRunner& runner, const ApiTokens& tokens)
    : fed_(fed), db_(db), runner_(runner), tokens_(tokens) {}

ApiResponse RestApi::Handle(const ApiRequest& request) {
  std::string token;
  if (request.authorization.starts_with("Bearer ")) token = request.authorization.substr(7);
  Result<ApiPrincipal> who = tokens_.Authenticate(token);
  if (!who.ok()) return ErrorResponse(who.status());
  try {
    Result<ApiTarget> target = ParseApiTarget(request.target);
    if (!target.ok()) return ErrorResponse(target.status());
    if (target->mlflow) {  // MLflow's clients read MLflow's error codes
      Result<ApiResponse> r = HandleMlflow(db_, request, *target, *who);
      return r.ok() ? *r : MlflowError(r.status());
    }
    Result<ApiResponse> r = Route(request, *target, *who);
    return r.ok() ? *r : ErrorResponse(r.status());
  } catch (const std::exception& e) {  // a bug: report it, keep serving
    FEDRA_LOG(kError) << request.method << " " << request.target << ": " << e.what();
    return ErrorResponse(Internal(e.what()));
  }
}

Result<nlohmann::json> RestApi::Sites() {
  SiteResponses responses = fed_.CallAll({Request::ListCatalog()});
  nlohmann::json out = nlohmann::json::array();
  for (const std::string& site : fed_.site_names()) {
    const auto& r = responses.at(site);
    const bool online = r.ok() && r->front().status.ok();
    nlohmann::json datasets = online ? r->front().meta.value("datasets", nlohmann::json::array()) : nlohmann::json();
    const bool gpu = online && r->front().meta.value("gpu", false);
    FEDRA_RETURN_IF_ERROR(db_.RecordSite(site, online, datasets, gpu));
    nlohmann::json entry = {{"name", site}, {"online", online}};
    if (!online) entry["error"] = (r.ok() ? r->front().status : r.status()).message();
    if (online) {  // what the site says of itself now, not kept
      for (const char* key : {"version", "memory_used_bytes", "memory_budget_bytes"}) {
        if (r->front().meta.contains(key)) entry[key] = r->front().meta[key];
      }
    }
    out.push_back(entry);
  }
  // Merge what was just seen with what the database remembers (last seen, datasets while offline).
  FEDRA_ASSIGN_OR_RETURN(nlohmann::json recorded, db_.ListSites());
  for (nlohmann::json& entry : out) {
    for (const nlohmann::json& r : recorded) {
      if (r["name"] == entry["name"]) {
        entry["last_seen"] = r["last_seen"];
        entry["datasets"] = r["datasets"];
        entry["gpu"] = r["gpu"];
      }
    }
  }
  return out;
}

namespace {

// One metric family in Prometheus' text format: its help, type and samples ({labels, value}).
void Family(std::string* out, const std::string& name, const char* type, const char* help,
            const std::vector<std::pair<std::string, double>>& samples) {
  *out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  for (const auto& [labels, value] : samples) {
    char number[32];
    std::snprintf(number, sizeof number, "%.17g", value);
    *out += name + labels + " " + number + "\n";
  }
}

// {key="value"}, the value escaped as the format asks.
std::string Label(const std::string& key, const std::string& value) {
  std::string escaped;
  for (char c : value) {
    if (c == '\n') {
      escaped += "\\n";
      continue;
    }
    if (c == '\\' || c == '"') escaped += '\\';
    escaped += c;
  }
  return "{" + key + "=\"" + escaped + "\"}";
}

}  // namespace

Result<ApiResponse> RestApi::Metrics() {
  SiteResponses pings = fed_.CallAll({Request::Ping()});
  std::vector<std::pair<std::string, double>> up;
  std::map<std::string, std::vector<std::pair<std::string, double>>> by_key;
  for (const std::string& site : fed_.site_names()) {
    const auto& r = pings.at(site);
    const bool answered = r.ok() && !r->empty() && r->front().status.ok();
    up.emplace_back(Label("site", site), answered ? 1 : 0);
    if (!answered) continue;
    for (const auto& [key, v] : r->front().meta.items()) {
      if (v.is_number()) by_key[key].emplace_back(Label("site", site), v.get<double>());
    }
  }
  std::string out;
  Family(&out, "fedra_site_up", "gauge", "Whether the site answered the master's ping.", up);
  struct SiteMetric {
    const char* key;  // in the ping's answer
    const char* type;
    const char* help;
  };
  constexpr SiteMetric kSiteMetrics[] = {
      {"requests", "counter", "Requests the site has run since it started."},
      {"refused", "counter", "Requests the site refused by its policy (privacy, allowed masters)."},
      {"failed", "counter", "Requests that failed for another reason."},
      {"bytes_out", "counter", "Bytes of values that left the site."},
      {"variables", "gauge", "Variables the site holds."},
      {"memory_used_bytes", "gauge", "Bytes the site's variables take of its memory budget."},
      {"training_rows_bytes", "gauge",
       "Bytes of the float copies of rows the site trains and validates on, kept across rounds."},
      {"uptime_s", "gauge", "Seconds since the site started."}};
  for (const SiteMetric& m : kSiteMetrics) {
    const std::string name =
        std::string("fedra_site_") + m.key + (std::string_view(m.type) == "counter" ? "_total" : "");
    Family(&out, name, m.type, m.help, by_key[m.key]);
  }
  FEDRA_ASSIGN_OR_RETURN(const auto runs, db_.CountRunsByStatus());
  std::vector<std::pair<std::string, double>> statuses;
  for (const char* status : {"scheduled", "running", "finished", "failed", "cancelled"}) {
    const auto it = runs.find(status);
    statuses.emplace_back(Label("status", status), it == runs.end() ? 0 : static_cast<double>(it->second));
  }
  Family(&out, "fedra_runs", "gauge", "Runs in the experiment database, by status.", statuses);
  std::vector<std::pair<std::string, double>> restarts;
  for (const std::string& site : fed_.site_names()) {
    restarts.emplace_back(Label("site", site), static_cast<double>(fed_.restarts(site)));
  }
  Family(&out, "fedra_site_restarts_total", "counter",
         "Restarts of the site the master has seen (new incarnations), whose variables it made again.", restarts);
  const JobRunner::Timings timings = runner_.timings();
  std::vector<std::pair<std::string, double>> job_seconds, job_counts;
  for (const char* status : {"finished", "failed", "cancelled"}) {
    const auto it = timings.jobs.find(status);
    job_seconds.emplace_back(Label("status", status), it == timings.jobs.end() ? 0 : it->second.second);
    job_counts.emplace_back(Label("status", status),
                            it == timings.jobs.end() ? 0 : static_cast<double>(it->second.first));
  }
  Family(&out, "fedra_job_seconds_total", "counter",
         "Seconds spent in jobs that ended since serve started, by outcome.", job_seconds);
  Family(&out, "fedra_jobs_ended_total", "counter", "Jobs that ended since serve started, by outcome.", job_counts);
  Family(&out, "fedra_training_round_seconds_total", "counter",
         "Seconds spent in the training rounds of jobs that finished since serve started.",
         {{Label("algorithm", "nn"), timings.round_seconds}});
  Family(&out, "fedra_training_rounds_total", "counter", "Training rounds of jobs that finished since serve started.",
         {{Label("algorithm", "nn"), static_cast<double>(timings.rounds)}});
  return ApiResponse{200, "text/plain; version=0.0.4; charset=utf-8", std::move(out)};
}

nlohmann::json RestApi::Audit(int64_t limit) {
  SiteResponses responses = fed_.CallAll({Request::Audit(limit)});
  nlohmann::json out = nlohmann::json::array();
  for (const std::string& site : fed_.site_names()) {
    const auto& r = responses.at(site);
    if (r.ok() && r->front().status.ok()) {
      out.push_back({{"name", site}, {"events", r->front().meta.value("events", nlohmann::json::array())}});
    } else {
      out.push_back({{"name", site}, {"error", (r.ok() ? r->front().status : r.status()).message()}});
    }
  }
  return out;
}

// The resources: method, path pattern ("*" is any one segment), who may call, and the handler.
// Handlers are lambdas in this member function, so they reach RestApi's members.
const std::vector<RestApi::ApiRoute>& RestApi::Routes() {
  using A = ApiAccess;
  using C = ApiCall;
  using R = Result<ApiResponse>;
  static const std::vector<ApiRoute> routes = {
      {"GET",
       {"health"},
       A::kViewer,
       [](RestApi&, const C& c) -> R {
         return Json(200,
                     {{"status", "ok"}, {"schema_version", ExperimentDb::SchemaVersion()}, {"principal", c.who.name}});
       }},
      {"GET",
       {"openapi.json"},
       A::kViewer,
       [](RestApi&, const C&) -> R {
         return ApiResponse{200, "application/json", std::string(OpenApiDocument())};
       }},
      {"GET",
       {"algorithms"},
       A::kViewer,
       [](RestApi&, const C&) -> R {
         return Json(200, {{"algorithms", AlgorithmCatalog()}});
       }},
      {"GET",
       {"sites"},
       A::kViewer,
       [](RestApi& api, const C&) -> R {
         FEDRA_ASSIGN_OR_RETURN(nlohmann::json sites, api.Sites());
         return Json(200, {{"sites", sites}});
       }},
      // Prometheus text exposition: what monitoring a company already runs can scrape.
      {"GET", {"metrics"}, A::kViewer, [](RestApi& api, const C&) -> R { return api.Metrics(); }},
      // What was asked of protected data, by whom: operators only.
      {"GET",
       {"audit"},
       A::kOperator,
       [](RestApi& api, const C& c) -> R {
         FEDRA_ASSIGN_OR_RETURN(int64_t limit, QueryInt(c.target, "limit", 100, 1, 10000));
         return Json(200, {{"sites", api.Audit(limit)}});
       }},
      {"GET",
       {"experiments"},
       A::kViewer,
       [](RestApi& api, const C&) -> R {
         FEDRA_ASSIGN_OR_RETURN(nlohmann::json experiments, api.db_.ListExperiments());
         return Json(200, {{"experiments", experiments}});
       }},
      {"GET", {"experiments", "*", "runs"}, A::kViewer, [](RestApi& api, const C& c) { return api.ListRuns(c); }},
      {"GET", {"jobs"}, A::kViewer, [](RestApi& api, const C& c) { return api.ListRuns(c); }},
      {"POST",
       {"jobs"},
       A::kOperator,
       [](RestApi& api, const C& c) -> R {
         FEDRA_ASSIGN_OR_RETURN(nlohmann::json spec, ParseBody(c.request.body));
         FEDRA_ASSIGN_OR_RETURN(int64_t run, api.runner_.Submit(spec, c.who.name));
         return Json(201, {{"run_id", run}, {"status", "scheduled"}});
       }},
      {"GET", {"jobs", "*"}, A::kViewer, [](RestApi& api, const C& c) { return api.GetRun(c); }},
      {"GET", {"runs", "*"}, A::kViewer, [](RestApi& api, const C& c) { return api.GetRun(c); }},
      {"POST",
       {"runs", "log-batch"},
       A::kOperator,
       [](RestApi& api, const C& c) -> R {
         FEDRA_ASSIGN_OR_RETURN(nlohmann::json doc, ParseBody(c.request.body));
         if (!doc.contains("run_id") || !doc["run_id"].is_number_integer()) {
           return InvalidArgument("run_id: expected an integer");
         }
         const int64_t run = doc["run_id"].get<int64_t>();
         FEDRA_ASSIGN_OR_RETURN(LoggedBatch batch, ParseLogBatch(doc, /*seconds_per_timestamp=*/1));
         FEDRA_RETURN_IF_ERROR(WriteLogBatch(api.db_, run, std::move(batch)));
         return Json(200, nlohmann::json::object());
       }},
      {"POST",
       {"runs"},
       A::kOperator,
       [](RestApi& api, const C& c) -> R {
         FEDRA_ASSIGN_OR_RETURN(nlohmann::json doc, ParseBody(c.request.body));
         JsonFields f(doc, "request body:");
         NewRun run;
         run.submitted_by = c.who.name;
         std::string experiment;
         FEDRA_RETURN_IF_ERROR(f.Optional("experiment", &experiment));
         int64_t experiment_id = 0;
         FEDRA_RETURN_IF_ERROR(f.Optional("experiment_id", &experiment_id, 1, int64_t{1} << 62));
         FEDRA_RETURN_IF_ERROR(f.Optional("run_name", &run.name));
         if (const nlohmann::json* params = f.Child("params")) {
           if (!params->is_object()) return InvalidArgument("params: expected an object");
           run.params = *params;
         }
         FEDRA_RETURN_IF_ERROR(f.Finish());
         if (experiment_id != 0) {  // the experiment by its id, as listings give it
           if (!experiment.empty()) return InvalidArgument("give \"experiment\" or \"experiment_id\", not both");
           FEDRA_ASSIGN_OR_RETURN(nlohmann::json experiments, api.db_.ListExperiments());
           for (const nlohmann::json& e : experiments) {
             if (e["experiment_id"] == experiment_id) experiment = e["name"];
           }
           if (experiment.empty()) return NotFound("no experiment " + std::to_string(experiment_id));
         }
         if (experiment.empty()) return InvalidArgument("experiment: expected a non-empty string (or experiment_id)");
         run.experiment = experiment;
         FEDRA_ASSIGN_OR_RETURN(int64_t id, api.db_.CreateRun(run));
         return Json(201, {{"run_id", id}});
       }},
      {"POST",
       {"jobs", "*", "cancel"},
       A::kOperator,
       [](RestApi& api, const C& c) -> R {
         FEDRA_ASSIGN_OR_RETURN(int64_t id, ParseId(c.target.path[1], "run id"));
         FEDRA_RETURN_IF_ERROR(api.db_.RequestCancel(id));
         return Json(202, {{"run_id", id}, {"cancel_requested", true}});
       }},
      {"POST",
       {"runs", "*", "status"},
       A::kOperator,
       [](RestApi& api, const C& c) -> R {
         FEDRA_ASSIGN_OR_RETURN(int64_t id, ParseId(c.target.path[1], "run id"));
         FEDRA_ASSIGN_OR_RETURN(nlohmann::json doc, ParseBody(c.request.body));
         if (!doc.contains("status") || !doc["status"].is_string()) return InvalidArgument("status: expected a string");
         FEDRA_ASSIGN_OR_RETURN(RunStatus status, RunStatusFromMlflow(doc["status"].get<std::string>()));
         FEDRA_ASSIGN_OR_RETURN(nlohmann::json run, api.db_.GetRun(id));
         if (run["job"].get<bool>()) {
           return FailedPrecondition("run " + std::to_string(id) +
                                     " is a job the master runs; its status is the master's " +
                                     "(cancel it with POST jobs/" + std::to_string(id) + "/cancel)");
         }
         FEDRA_RETURN_IF_ERROR(api.db_.SetRunStatus(id, status));
         return Json(200, {{"run_id", id}, {"status", RunStatusName(status)}});
       }},
      {"GET",
       {"runs", "*", "metrics", "*"},
       A::kViewer,
       [](RestApi& api, const C& c) -> R {
         FEDRA_ASSIGN_OR_RETURN(int64_t id, ParseId(c.target.path[1], "run id"));
         FEDRA_RETURN_IF_ERROR(api.db_.GetRun(id).status());
         FEDRA_ASSIGN_OR_RETURN(int64_t max_points, QueryInt(c.target, "max_points", 1000, 2, 100000));
         FEDRA_ASSIGN_OR_RETURN(nlohmann::json history, api.db_.MetricHistory(id, c.target.path[3], max_points));
         return Json(200, history);
       }},
      {"GET",
       {"runs", "*", "models"},
       A::kViewer,
       [](RestApi& api, const C& c) -> R {
         FEDRA_ASSIGN_OR_RETURN(int64_t id, ParseId(c.target.path[1], "run id"));
         FEDRA_RETURN_IF_ERROR(api.db_.GetRun(id).status());
         FEDRA_ASSIGN_OR_RETURN(nlohmann::json models, api.db_.ListModels(id));
         return Json(200, {{"models", models}});
       }},
      {"GET",
       {"runs", "*", "models", "*"},
       A::kViewer,
       [](RestApi& api, const C& c) -> R {
         FEDRA_ASSIGN_OR_RETURN(int64_t id, ParseId(c.target.path[1], "run id"));
         FEDRA_ASSIGN_OR_RETURN(int64_t version, QueryInt(c.target, "version", 0, 0, int64_t{1} << 40));
         const auto format = c.target.query.find("format");
         const std::string as = format == c.target.query.end() ? "json" : format->second;
         if (as != "json" && as != "onnx") {
           return InvalidArgument("format: \"json\" (the saved model) or \"onnx\", got '" + as + "'");
         }
         FEDRA_ASSIGN_OR_RETURN(ModelBlob model, api.db_.GetModel(id, c.target.path[3], version));
         // Models are fedra-model JSON documents (master/jobs/saved_model.h).
         std::string document(model.bytes.begin(), model.bytes.end());
         if (as == "json") return ApiResponse{200, "application/json", std::move(document)};
         FEDRA_ASSIGN_OR_RETURN(nlohmann::json saved, ParseJson(document, "the saved model"));
         FEDRA_ASSIGN_OR_RETURN(std::string onnx, ExportOnnx(saved));
         return ApiResponse{200, "application/octet-stream", std::move(onnx)};
       }},
  };
  return routes;
}

std::vector<std::pair<std::string, std::string>> RestApi::Resources() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const ApiRoute& r : Routes()) {
    std::string path;
    for (std::string_view segment : r.pattern) path += "/" + std::string(segment);
    out.emplace_back(std::string(r.method), path);
  }
  return out;
}

Result<ApiResponse> RestApi::ListRuns(const ApiCall& c) {
  const std::vector<std::string>& p = c.target.path;
  int64_t experiment = 0;
  if (p[0] == "experiments") {
    FEDRA_ASSIGN_OR_RETURN(experiment, ParseId(p[1], "experiment id"));
  }
  FEDRA_ASSIGN_OR_RETURN(int64_t limit, QueryInt(c.target, "limit", kDefaultListLimit, 1, kMaxListLimit));
  FEDRA_ASSIGN_OR_RETURN(int64_t offset, QueryInt(c.target, "offset", 0, 0, int64_t{1} << 40));
  FEDRA_ASSIGN_OR_RETURN(nlohmann::json runs, db_.ListRuns(experiment, limit, offset, /*jobs_only=*/p[0] == "jobs"));
  nlohmann::json out = nlohmann::json::array();
  for (const auto& run : runs) out.push_back(RunResource(run));
  return Json(200, {{"runs", out}});
}

Result<ApiResponse> RestApi::GetRun(const ApiCall& c) {
  FEDRA_ASSIGN_OR_RETURN(int64_t id, ParseId(c.target.path[1], "run id"));
  FEDRA_ASSIGN_OR_RETURN(nlohmann::json run, db_.GetRun(id));
  if (c.target.path[0] == "jobs" && !run["job"].get<bool>()) {
    return NotFound("run " + std::to_string(id) + " is not a job");
  }
  return Json(200, {{"run", RunResource(run)}});
}

Result<ApiResponse> RestApi::Route(const ApiRequest& request, const ApiTarget& target, const ApiPrincipal& who) {
  // The most specific patterns that match the path (fewest wildcards) decide: one with this
  // method answers; otherwise the path exists but not for this method (405).
  auto literals = [](const ApiRoute& r) {
    return std::count_if(r.pattern.begin(), r.pattern.end(), [](std::string_view s) { return s != "*"; });
  };
  auto matches = [&](const ApiRoute& r) {
    if (r.pattern.size() != target.path.size()) return false;
    for (size_t i = 0; i < r.pattern.size(); ++i) {
      if (r.pattern[i] != "*" && r.pattern[i] != target.path[i]) return false;
    }
    return true;
  };
  const ApiRoute* chosen = nullptr;
  std::string allowed;
  long best = -1;
  for (const ApiRoute& r : Routes()) {
    if (!matches(r)) continue;
    const long specificity = literals(r);
    if (specificity > best) {
      best = specificity;
      chosen = nullptr;
      allowed.clear();
    }
    if (specificity < best) continue;
    if (r.method == request.method) chosen = &r;
    allowed += (allowed.empty() ? "" : ", ") + std::string(r.method);
  }
  if (best < 0) return NotFound("no resource at " + request.target);
  if (!chosen) {
    return ApiResponse{405, "application/json",
                       nlohmann::json{{"error_code", "METHOD_NOT_ALLOWED"},
                                      {"message", request.method + " is not allowed on " + request.target +
                                                      " (allowed: " + allowed + ")"}}
                           .dump()};
  }
  if (chosen->access == ApiAccess::kOperator) FEDRA_RETURN_IF_ERROR(RequireOperator(who));
  return chosen->handler(*this, ApiCall{target, request, who});
}

}  // namespace fedra
