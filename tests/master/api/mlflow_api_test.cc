// MLflow's tracking REST API under /api/2.0/mlflow/, driven as MLflow's REST documentation and
// its clients drive it (requests with string ids and millisecond times; MLflow's response shapes
// and error codes), over a real experiment database; and the search language on its own.
#include <doctest/doctest.h>

#include "master/api/mlflow_runs.h"
#include "tests/master/api/api_fixture.h"

namespace fedra {
namespace {

const std::string kMlflow = "/api/2.0/mlflow/";

nlohmann::json Body(const ApiResponse& r) { return nlohmann::json::parse(r.body); }

// The run's {key, value} list as a map.
std::map<std::string, nlohmann::json> ByKey(const nlohmann::json& list) {
  std::map<std::string, nlohmann::json> out;
  for (const nlohmann::json& kv : list) out[kv["key"]] = kv;
  return out;
}

struct Mlflow : Api {
  nlohmann::json Post(const std::string& endpoint, const nlohmann::json& body, int status = 200) {
    const ApiResponse r = Call("POST", kMlflow + endpoint, body.dump());
    CHECK_MESSAGE(r.status == status, endpoint, ": ", r.body);
    CHECK(r.content_type == "application/json");
    return Body(r);
  }
  nlohmann::json Get(const std::string& endpoint, int status = 200) {
    const ApiResponse r = Call("GET", kMlflow + endpoint, "", "viewer-token");
    CHECK_MESSAGE(r.status == status, endpoint, ": ", r.body);
    return Body(r);
  }
};

}  // namespace

TEST_CASE("an MLflow client's session: experiment, run, log-batch, update, get, history and search") {
  Mlflow m;
  // experiments/create answers the id as a string; a second create of the name is refused.
  const nlohmann::json created = m.Post("experiments/create", {{"name", "housing"}});
  REQUIRE(created["experiment_id"].is_string());
  const std::string experiment = created["experiment_id"];
  const nlohmann::json again = m.Post("experiments/create", {{"name", "housing"}}, 400);
  CHECK(again["error_code"] == "RESOURCE_ALREADY_EXISTS");
  const nlohmann::json got = m.Get("experiments/get?experiment_id=" + experiment)["experiment"];
  CHECK(got["name"] == "housing");
  CHECK(got["lifecycle_stage"] == "active");
  CHECK(got["creation_time"].is_number_integer());
  CHECK(m.Get("experiments/get-by-name?experiment_name=housing")["experiment"]["experiment_id"] == experiment);
  CHECK(m.Get("experiments/get?experiment_id=999", 404)["error_code"] == "RESOURCE_DOES_NOT_EXIST");

  // runs/create as the Python client sends it: start_time in ms, the run name also as a tag.
  const int64_t start_ms = 1700000000000;
  const nlohmann::json run = m.Post("runs/create", {{"experiment_id", experiment},
                                                    {"user_id", "ignored"},
                                                    {"start_time", start_ms},
                                                    {"tags",
                                                     {{{"key", "mlflow.runName"}, {"value", "ridge-1"}},
                                                      {{"key", "mlflow.source.name"}, {"value", "train.py"}}}}})["run"];
  const nlohmann::json& info = run["info"];
  REQUIRE(info["run_id"].is_string());
  const std::string id = info["run_id"];
  CHECK(info["run_uuid"] == id);
  CHECK(info["experiment_id"] == experiment);
  CHECK(info["run_name"] == "ridge-1");
  CHECK(info["status"] == "RUNNING");
  CHECK(info["user_id"] == "op");  // the token's name, not what the body claims
  CHECK(info["start_time"].is_number_integer());
  CHECK(info["lifecycle_stage"] == "active");
  CHECK(ByKey(run["data"]["tags"])["mlflow.source.name"]["value"] == "train.py");

  // log-batch with MLflow's field names; timestamps are milliseconds.
  nlohmann::json metrics = nlohmann::json::array();
  for (int step = 0; step < 5; ++step) {
    metrics.push_back(
        {{"key", "rmse"}, {"value", 1.0 / (step + 1)}, {"timestamp", start_ms + step * 1000}, {"step", step}});
  }
  m.Post("runs/log-batch", {{"run_id", id},
                            {"metrics", metrics},
                            {"params", {{{"key", "alpha"}, {"value", "0.5"}}, {{"key", "model"}, {"value", "ridge"}}}},
                            {"tags", {{{"key", "team"}, {"value", "plants"}}}}});
  m.Post("runs/log-metric", {{"run_id", id}, {"key", "r2"}, {"value", 0.75}, {"timestamp", start_ms}, {"step", 0}});
  m.Post("runs/log-parameter", {{"run_id", id}, {"key", "lambda"}, {"value", "0.01"}});
  m.Post("runs/log-parameter", {{"run_id", id}, {"key", "lambda"}, {"value", "0.01"}});  // the same value: fine
  const nlohmann::json changed = m.Post("runs/log-parameter", {{"run_id", id}, {"key", "lambda"}, {"value", "1"}}, 400);
  CHECK(changed["error_code"] == "INVALID_PARAMETER_VALUE");
  CHECK(changed["message"].get<std::string>().find("was logged as '0.01'") != std::string::npos);
  m.Post("runs/set-tag", {{"run_id", id}, {"key", "team"}, {"value", "hq"}});

  // runs/update ends it, as set_terminated does.
  const nlohmann::json updated =
      m.Post("runs/update", {{"run_id", id}, {"status", "FINISHED"}, {"end_time", start_ms + 9000}});
  CHECK(updated["run_info"]["status"] == "FINISHED");
  CHECK(updated["run_info"]["end_time"].is_number_integer());

  const nlohmann::json fetched = m.Get("runs/get?run_id=" + id)["run"];
  auto params = ByKey(fetched["data"]["params"]);
  CHECK(params["alpha"]["value"] == "0.5");
  CHECK(params["lambda"]["value"] == "0.01");
  auto tags = ByKey(fetched["data"]["tags"]);
  CHECK(tags["team"]["value"] == "hq");
  CHECK(tags["mlflow.runName"]["value"] == "ridge-1");
  auto latest = ByKey(fetched["data"]["metrics"]);
  CHECK(latest["rmse"]["value"] == doctest::Approx(0.2));
  CHECK(latest["rmse"]["step"] == 4);
  CHECK(latest["rmse"]["timestamp"] == start_ms + 4000);

  const nlohmann::json history = m.Get("metrics/get-history?run_id=" + id + "&metric_key=rmse");
  REQUIRE(history["metrics"].size() == 5);
  for (int step = 0; step < 5; ++step) {
    const nlohmann::json& p = history["metrics"][static_cast<size_t>(step)];
    CHECK(p["key"] == "rmse");
    CHECK(p["step"] == step);
    CHECK(p["timestamp"] == start_ms + step * 1000);
    CHECK(p["value"] == doctest::Approx(1.0 / (step + 1)));
  }
  const nlohmann::json first_page = m.Get("metrics/get-history?run_id=" + id + "&metric_key=rmse&max_results=2");
  CHECK(first_page["metrics"].size() == 2);
  REQUIRE(first_page.contains("next_page_token"));

  // A second run to search among.
  const std::string other =
      m.Post("runs/create", {{"experiment_id", experiment}, {"run_name", "lasso-1"}})["run"]["info"]["run_id"];
  m.Post("runs/log-batch", {{"run_id", other},
                            {"metrics", {{{"key", "rmse"}, {"value", 0.1}, {"timestamp", start_ms}, {"step", 0}}}},
                            {"params", {{{"key", "model"}, {"value", "lasso"}}}}});

  auto search = [&](const nlohmann::json& body) {
    std::vector<std::string> ids;
    const nlohmann::json found = m.Post("runs/search", body);
    for (const nlohmann::json& r : found["runs"]) ids.push_back(r["info"]["run_id"]);
    return ids;
  };
  const nlohmann::json in = nlohmann::json::array({experiment});
  CHECK(search({{"experiment_ids", in}, {"filter", "metrics.rmse < 1 and params.model = 'ridge'"}}) ==
        std::vector<std::string>{id});
  CHECK(search({{"experiment_ids", in}, {"order_by", {"metrics.rmse ASC"}}}) == std::vector<std::string>{other, id});
  CHECK(search({{"experiment_ids", in}, {"order_by", {"metrics.rmse DESC"}}}) == std::vector<std::string>{id, other});
  CHECK(search({{"experiment_ids", in}, {"filter", "attributes.status = 'FINISHED'"}}) == std::vector<std::string>{id});
  CHECK(search({{"experiment_ids", in}, {"filter", "tags.\"team\" = 'hq'"}}) == std::vector<std::string>{id});
  CHECK(search({{"experiment_ids", in}, {"filter", "params.model LIKE 'la%'"}}) == std::vector<std::string>{other});
  CHECK(search({{"experiment_ids", in}, {"filter", "metrics.r2 > 0"}}) ==
        std::vector<std::string>{id});  // other has none
  const nlohmann::json paged = m.Post("runs/search", {{"experiment_ids", in}, {"max_results", 1}});
  REQUIRE(paged["runs"].size() == 1);
  const nlohmann::json rest =
      m.Post("runs/search", {{"experiment_ids", in}, {"max_results", 1}, {"page_token", paged["next_page_token"]}});
  REQUIRE(rest["runs"].size() == 1);
  CHECK(rest["runs"][0]["info"]["run_id"] != paged["runs"][0]["info"]["run_id"]);
  CHECK_FALSE(rest.contains("next_page_token"));

  const nlohmann::json experiments = m.Post("experiments/search", {{"filter", "name LIKE 'hous%'"}});
  REQUIRE(experiments["experiments"].size() == 1);
  CHECK(experiments["experiments"][0]["name"] == "housing");

  // fedra's own API sees the same run, in its units.
  const ApiResponse v1 = m.Call("GET", "/api/v1/runs/" + id);
  REQUIRE(v1.status == 200);
  const nlohmann::json v1_run = Body(v1)["run"];
  CHECK(ByKey(v1_run["data"]["tags"])["team"]["value"] == "hq");
  CHECK(ByKey(v1_run["data"]["metrics"])["rmse"]["timestamp"].get<double>() ==
        doctest::Approx((start_ms + 4000) / 1000.0));
}

TEST_CASE("MLflow requests that cannot be served get MLflow's error codes and change nothing") {
  Mlflow m;
  const std::string experiment = m.Post("experiments/create", {{"name", "e"}})["experiment_id"];
  const std::string id = m.Post("runs/create", {{"experiment_id", experiment}})["run"]["info"]["run_id"];
  CHECK(m.Get("runs/get?run_id=12345", 404)["error_code"] == "RESOURCE_DOES_NOT_EXIST");
  CHECK(m.Get("runs/get?run_id=abc", 404)["error_code"] == "RESOURCE_DOES_NOT_EXIST");
  CHECK(m.Get("runs/get", 400)["message"].get<std::string>().find("run_id") != std::string::npos);
  CHECK(m.Post("runs/log-metric", {{"run_id", id}, {"key", "x"}, {"value", "high"}}, 400)["error_code"] ==
        "INVALID_PARAMETER_VALUE");
  CHECK(m.Post("runs/update", {{"run_id", id}, {"status", "DONE"}}, 400)["message"].get<std::string>().find("KILLED") !=
        std::string::npos);
  CHECK(m.Post("runs/log-parameter", {{"run_id", id}, {"key", "../x"}, {"value", "1"}}, 400)["error_code"] ==
        "INVALID_PARAMETER_VALUE");
  nlohmann::json many = nlohmann::json::array();
  for (int i = 0; i < 101; ++i) many.push_back({{"key", "p" + std::to_string(i)}, {"value", "1"}});
  CHECK(m.Post("runs/log-batch", {{"run_id", id}, {"params", many}}, 400)["message"].get<std::string>().find(
            "at most 100") != std::string::npos);
  CHECK(
      m.Post("runs/search", {{"filter", "metrics.rmse < 1 or params.a = 'b'"}}, 400)["message"].get<std::string>().find(
          "AND") != std::string::npos);
  CHECK(m.Post("runs/search", {{"filter", "metrics.rmse < 'low'"}}, 400)["error_code"] == "INVALID_PARAMETER_VALUE");
  CHECK(m.Post("runs/search", {{"filter", "attributes.colour = 'red'"}}, 400)["message"].get<std::string>().find(
            "unknown attribute") != std::string::npos);
  CHECK(m.Post("runs/search", {{"order_by", {"metrics.rmse SIDEWAYS"}}}, 400)["error_code"] ==
        "INVALID_PARAMETER_VALUE");
  // Nothing above was logged.
  const nlohmann::json run = m.Get("runs/get?run_id=" + id)["run"];
  CHECK(run["data"]["params"].empty());
  CHECK(run["data"]["metrics"].empty());
  // Writes need an operator; unknown endpoints and methods are named.
  const ApiResponse viewer =
      m.Call("POST", kMlflow + "runs/set-tag", nlohmann::json{{"run_id", id}, {"key", "a"}, {"value", "b"}}.dump(),
             "viewer-token");
  CHECK(viewer.status == 403);
  CHECK(Body(viewer)["error_code"] == "PERMISSION_DENIED");
  CHECK(m.Call("POST", kMlflow + "model-versions/create").status == 404);
  CHECK(m.Call("DELETE", kMlflow + "runs/get").status == 405);
  CHECK(m.Call("GET", kMlflow + "runs/get?run_id=" + id, "", "nobody").status == 401);
}

TEST_CASE("a job's status stays the master's: MLflow's update is refused for it") {
  Mlflow m;
  const ApiResponse submitted = m.Call(
      "POST", "/api/v1/jobs", nlohmann::json{{"algorithm", "lm"}, {"data", {{"dataset", "t"}, {"label", "y"}}}}.dump());
  REQUIRE_MESSAGE(submitted.status == 201, submitted.body);
  const std::string id = std::to_string(Body(submitted)["run_id"].get<int64_t>());
  const nlohmann::json refused = m.Post("runs/update", {{"run_id", id}, {"status", "KILLED"}}, 400);
  CHECK(refused["error_code"] == "INVALID_STATE");
  CHECK(refused["message"].get<std::string>().find("/api/v1/jobs/" + id + "/cancel") != std::string::npos);
}

TEST_CASE("the search language: MLflow's documented filters and order_by clauses") {
  Result<std::vector<FilterClause>> documented =
      ParseFilter("metrics.rmse < 1 and params.model_class = 'LogisticRegression'");
  REQUIRE(documented.ok());
  REQUIRE(documented->size() == 2);
  CHECK((*documented)[0].kind == "metrics");
  CHECK((*documented)[0].op == "<");
  CHECK((*documented)[1].kind == "params");
  CHECK(std::get<std::string>((*documented)[1].values[0]) == "LogisticRegression");
  Result<std::vector<FilterClause>> quoted =
      ParseFilter("metrics.\"model class\" >= 2 AND tags.`user-name` = \"Tomas\"");
  REQUIRE(quoted.ok());
  CHECK((*quoted)[0].key == "model class");
  CHECK((*quoted)[1].key == "user-name");
  Result<std::vector<FilterClause>> in = ParseFilter("attributes.run_id IN ('1', '2') and attr.status != 'FAILED'");
  REQUIRE(in.ok());
  CHECK((*in)[0].values.size() == 2);
  CHECK((*in)[1].kind == "attributes");
  for (const char* bad : {"metrics.rmse", "metrics.rmse <", "rmse.x < 1", "metrics.a < 1 metrics.b < 2",
                          "params.a IN ('x'", "params.a = 'unclosed"}) {
    CAPTURE(bad);
    CHECK(ParseFilter(bad).status().code() == StatusCode::kInvalidArgument);
  }
  for (const char* clause : {"params.input DESC", "metrics.alpha ASC", "metrics.rmse"}) {  // MLflow's example
    CAPTURE(clause);
    CHECK(ParseOrderBy(clause).ok());
  }

  // Runs as the database lists them: missing values sort last either way; LIKE's wildcards.
  const nlohmann::json runs = nlohmann::json::array({{{"run_id", 3},
                                                      {"status", "finished"},
                                                      {"metrics", {{"acc", 0.9}}},
                                                      {"params", {{"opt", "adam"}}},
                                                      {"tags", nlohmann::json::object()}},
                                                     {{"run_id", 2},
                                                      {"status", "cancelled"},
                                                      {"metrics", nlohmann::json::object()},
                                                      {"params", {{"opt", "sgd"}}},
                                                      {"tags", nlohmann::json::object()}},
                                                     {{"run_id", 1},
                                                      {"status", "finished"},
                                                      {"metrics", {{"acc", 0.7}}},
                                                      {"params", {{"opt", "adagrad"}}},
                                                      {"tags", nlohmann::json::object()}}});
  auto ids = [&](const std::string& filter, const std::vector<std::string>& order) {
    std::vector<OrderClause> o;
    for (const std::string& c : order) o.push_back(*ParseOrderBy(c));
    Result<nlohmann::json> found = SearchRuns(runs, *ParseFilter(filter), o);
    REQUIRE(found.ok());
    std::vector<int64_t> out;
    for (const nlohmann::json& r : *found) out.push_back(r["run_id"]);
    return out;
  };
  CHECK(ids("", {"metrics.acc ASC"}) == std::vector<int64_t>{1, 3, 2});
  CHECK(ids("", {"metrics.acc DESC"}) == std::vector<int64_t>{3, 1, 2});
  CHECK(ids("params.opt LIKE 'ada%'", {}) == std::vector<int64_t>{3, 1});
  CHECK(ids("params.opt LIKE '_gd'", {}) == std::vector<int64_t>{2});
  CHECK(ids("params.opt ILIKE 'ADAM'", {}) == std::vector<int64_t>{3});
  CHECK(ids("attributes.status = 'KILLED'", {}) == std::vector<int64_t>{2});
  CHECK(ids("params.opt NOT IN ('adam', 'sgd')", {}) == std::vector<int64_t>{1});
  CHECK(ids("metrics.acc != 0.9", {}) == std::vector<int64_t>{1});  // a run without acc does not match
  CHECK(SearchRuns(runs, *ParseFilter("params.opt = 10"), {}).status().message().find("quote the value") !=
        std::string::npos);

  // A '%' in the text is a character like any other; in the pattern, a wildcard.
  const nlohmann::json percent = nlohmann::json::array({{{"run_id", 1},
                                                         {"metrics", nlohmann::json::object()},
                                                         {"params", {{"note", "drop 10% lr"}}},
                                                         {"tags", nlohmann::json::object()}},
                                                        {{"run_id", 2},
                                                         {"metrics", nlohmann::json::object()},
                                                         {"params", {{"note", "a%b"}}},
                                                         {"tags", nlohmann::json::object()}}});
  auto like = [&](const std::string& pattern) {
    Result<nlohmann::json> found = SearchRuns(percent, *ParseFilter("params.note LIKE '" + pattern + "'"), {});
    REQUIRE(found.ok());
    std::vector<int64_t> out;
    for (const nlohmann::json& r : *found) out.push_back(r["run_id"]);
    return out;
  };
  CHECK(like("%10%") == std::vector<int64_t>{1});
  CHECK(like("a%") == std::vector<int64_t>{2});
  CHECK(like("%b") == std::vector<int64_t>{2});
  CHECK(like("%%") == std::vector<int64_t>{1, 2});
  CHECK(like("a_b") == std::vector<int64_t>{2});
}

TEST_CASE("MLflow's default experiment \"0\" is fedra's \"default\"; searches are bounded") {
  Mlflow m;
  const nlohmann::json run = m.Post("runs/create", {{"experiment_id", "0"}, {"run_name", "first"}})["run"];
  const nlohmann::json unnamed = m.Post("runs/create", nlohmann::json::object())["run"];
  CHECK(run["info"]["experiment_id"] == unnamed["info"]["experiment_id"]);
  CHECK(m.Get("experiments/get?experiment_id=0")["experiment"]["name"] == "default");
  const nlohmann::json both = m.Post("runs/search", {{"experiment_ids", {"0", "0", run["info"]["experiment_id"]}}});
  CHECK(both["runs"].size() == 2);  // each experiment once
  nlohmann::json many = nlohmann::json::array();
  for (int i = 0; i < 101; ++i) many.push_back("0");
  CHECK(m.Post("runs/search", {{"experiment_ids", many}}, 400)["message"].get<std::string>().find("at most 100") !=
        std::string::npos);
  CHECK(m.Post("runs/search", {{"page_token", "9223372036854775807"}}, 400)["error_code"] == "INVALID_PARAMETER_VALUE");
  CHECK(m.Post("runs/search", {{"filter", std::string(5000, ' ')}}, 400)["message"].get<std::string>().find("4096") !=
        std::string::npos);
  CHECK(m.Post("runs/search", {{"experiment_ids", {"77"}}}, 404)["message"].get<std::string>().find("'77'") !=
        std::string::npos);
  CHECK(m.Post("experiments/search", {{"filter", "tags.team = 'a'"}}, 400)["error_code"] == "INVALID_PARAMETER_VALUE");
}

}  // namespace fedra
