// GET /api/v1/openapi.json describes every resource of the route table, and the responses the
// API really gives (successes and errors, over a real database and a real site) match it.
#include <doctest/doctest.h>

#include "tests/master/api/api_fixture.h"
#include "tests/support/openapi_check.h"

namespace fedra {
namespace {

// "/runs/*/metrics/*" as the document spells it, "/runs/{id}/metrics/{key}", if it has it.
std::string DocumentPath(const nlohmann::json& doc, const std::string& route) {
  for (const auto& [path, item] : doc["paths"].items()) {
    std::string pattern;
    for (size_t i = 0; i < path.size(); ++i) {
      if (path[i] != '{') {
        pattern += path[i];
        continue;
      }
      pattern += '*';
      i = path.find('}', i);
    }
    if (pattern == route) return path;
  }
  return "";
}

struct Checked : Api {
  testing::OpenApiCheck check{nlohmann::json::object()};
  int checked = 0;

  // Calls and checks the response against the document; returns the body.
  nlohmann::json Expect(const std::string& method, const std::string& target, int status,
                        const std::string& body = "{}", const std::string& token = "op-token") {
    const ApiResponse r = Call(method, "/api/v1" + target, body, token);
    CHECK_MESSAGE(r.status == status, method, " ", target, ": ", r.body);
    const std::string path = target.substr(0, target.find('?'));
    const Status s = check.CheckResponse(method, path, r.status, r.content_type, r.body);
    CHECK_MESSAGE(s.ok(), s.message());
    ++checked;
    return r.content_type == "application/json" ? nlohmann::json::parse(r.body) : nlohmann::json();
  }
};

}  // namespace

TEST_CASE("openapi.json describes every resource, and real responses match it") {
  Checked a;
  const ApiResponse served = a.Call("GET", "/api/v1/openapi.json", "", "viewer-token");
  REQUIRE(served.status == 200);
  const nlohmann::json doc = nlohmann::json::parse(served.body);
  CHECK(doc["openapi"].get<std::string>().starts_with("3."));
  a.check = testing::OpenApiCheck(doc);

  // Every route is described, and nothing else is.
  size_t operations = 0;
  for (const auto& [method, route] : RestApi::Resources()) {
    CAPTURE(method);
    CAPTURE(route);
    const std::string path = DocumentPath(doc, route);
    CHECK_FALSE(path.empty());
    CHECK(a.check.Describes(method, path));
  }
  for (const auto& [path, item] : doc["paths"].items()) operations += item.size();
  CHECK(operations == RestApi::Resources().size());

  // Reads with nothing recorded yet, then a job and what it records.
  a.Expect("GET", "/health", 200);
  a.Expect("GET", "/algorithms", 200);
  a.Expect("GET", "/sites", 200);
  a.Expect("GET", "/metrics", 200);
  a.Expect("GET", "/audit?limit=5", 200);
  a.Expect("GET", "/openapi.json", 200);
  const int64_t job =
      a.Expect("POST", "/jobs", 201,
               nlohmann::json{{"algorithm", "lm"}, {"experiment", "api"}, {"data", {{"dataset", "t"}, {"label", "y"}}}}
                   .dump())["run_id"];
  const std::string run = "/runs/" + std::to_string(job);
  REQUIRE(testing::WaitFor(
      [&] { return a.Expect("GET", "/jobs/" + std::to_string(job), 200)["run"]["info"]["status"] == "finished"; },
      std::chrono::seconds(30)));
  const nlohmann::json experiments = a.Expect("GET", "/experiments", 200);
  REQUIRE_FALSE(experiments["experiments"].empty());
  a.Expect("GET",
           "/experiments/" + std::to_string(experiments["experiments"][0]["experiment_id"].get<int64_t>()) +
               "/runs?limit=10",
           200);
  a.Expect("GET", "/jobs?limit=10&offset=0", 200);
  a.Expect("GET", run, 200);
  a.Expect("GET", run + "/metrics/r2?max_points=10", 200);
  a.Expect("GET", run + "/models", 200);
  a.Expect("GET", run + "/models/model", 200);
  a.Expect("GET", run + "/models/model?format=onnx", 200);

  // Writes of a run tracked from outside.
  const int64_t outside = a.Expect("POST", "/runs", 201, R"({"experiment": "api", "run_name": "x"})")["run_id"];
  const std::string logged = nlohmann::json{{"run_id", outside},
                                            {"metrics", {{{"key", "loss"}, {"value", 0.5}, {"step", 1}}}},
                                            {"params", {{{"key", "lr"}, {"value", "0.1"}}}},
                                            {"tags", {{{"key", "team"}, {"value", "a"}}}}}
                                 .dump();
  a.Expect("POST", "/runs/log-batch", 200, logged);
  const int64_t api_experiment =
      a.Expect("GET", "/runs/" + std::to_string(outside), 200)["run"]["info"]["experiment_id"];
  a.Expect("POST", "/runs", 201, nlohmann::json{{"experiment_id", api_experiment}}.dump());
  a.Expect("POST", "/runs", 404, R"({"experiment_id": 999})");
  a.Expect("POST", "/runs", 400, nlohmann::json{{"experiment_id", api_experiment}, {"experiment", "api"}}.dump());
  a.Expect("POST", "/runs/" + std::to_string(outside) + "/status", 200, R"({"status": "finished"})");
  const nlohmann::json outside_run = a.Expect("GET", "/runs/" + std::to_string(outside), 200);
  CHECK(outside_run["run"]["data"]["tags"][0]["key"] == "team");

  // Errors, each in the document's Error shape.
  a.Expect("GET", "/health", 401, "", "nobody");
  a.Expect("GET", "/runs/99999", 404);
  a.Expect("GET", "/runs/abc", 400);
  a.Expect("POST", "/jobs", 400, R"({"algorithm": "lm", "data": {"dataset": "nothere", "label": "y"}})");
  a.Expect("POST", "/jobs", 403, R"({"algorithm": "lm"})", "viewer-token");
  a.Expect("POST", "/jobs/" + std::to_string(job) + "/cancel", 409);
  a.Expect("POST", run + "/status", 409, R"({"status": "running"})");
  a.Expect("GET", "/audit", 403, "", "viewer-token");
  a.Expect("GET", run + "/metrics/r2?max_points=1", 400);
  a.Expect("GET", run + "/models/nothing", 404);
  CHECK(a.checked >= 30);
}

}  // namespace fedra

namespace fedra {

TEST_CASE("the response checker finds departures from the document") {
  const testing::OpenApiCheck check(nlohmann::json::parse(std::string(Api().Call("GET", "/api/v1/openapi.json").body)));
  const auto health = [&](const nlohmann::json& body) {
    return check.CheckResponse("GET", "/health", 200, "application/json", body.dump());
  };
  CHECK(health({{"status", "ok"}, {"schema_version", 3}, {"principal", "op"}}).ok());
  CHECK(health({{"status", "ok"}, {"schema_version", 3}}).message().find("lacks \"principal\"") != std::string::npos);
  CHECK(health({{"status", "up"}, {"schema_version", 3}, {"principal", "op"}}).message().find("not one of") !=
        std::string::npos);
  CHECK(health({{"status", "ok"}, {"schema_version", "3"}, {"principal", "op"}}).message().find("expected integer") !=
        std::string::npos);
  const std::string run = R"({"run": {"info": {}, "data": {"metrics": [], "params": [], "tags": []}}})";
  CHECK(check.CheckResponse("GET", "/runs/4", 200, "application/json", run).message().find("lacks \"run_id\"") !=
        std::string::npos);
  CHECK(check.CheckResponse("GET", "/runs/4", 418, "application/json", "{}").code() == StatusCode::kNotFound);
  CHECK(check.CheckResponse("DELETE", "/runs/4", 200, "application/json", "{}").code() == StatusCode::kNotFound);
}

}  // namespace fedra
