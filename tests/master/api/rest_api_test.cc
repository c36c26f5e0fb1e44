// The REST API's routing, in process: 404 and 405 follow from the route table, roles are
// checked per route, and targets are decoded by Boost.URL. (tests/system/rest_test.cc covers
// the resources over real HTTPS.)
#include <doctest/doctest.h>

#include <sstream>

#include "master/jobs/run_recorder.h"
#include "tests/master/api/api_fixture.h"

namespace fedra {
namespace {

std::string Message(const ApiResponse& r) { return nlohmann::json::parse(r.body).value("message", ""); }

}  // namespace

TEST_CASE("metrics are Prometheus text: the sites' counters and the runs by status") {
  Api a;
  CHECK(a.Call("GET", "/api/v1/sites").status == 200);  // a catalog request at site a
  const ApiResponse m = a.Call("GET", "/api/v1/metrics", "", "viewer-token");
  REQUIRE(m.status == 200);
  CHECK(m.content_type.starts_with("text/plain; version=0.0.4"));
  CHECK(m.body.find("# TYPE fedra_site_up gauge\nfedra_site_up{site=\"a\"} 1\n") != std::string::npos);
  CHECK(m.body.find("# TYPE fedra_site_requests_total counter\n") != std::string::npos);
  CHECK(m.body.find("fedra_site_requests_total{site=\"a\"} 1\n") != std::string::npos);
  CHECK(m.body.find("fedra_site_refused_total{site=\"a\"} 0\n") != std::string::npos);
  CHECK(m.body.find("fedra_site_training_rows_bytes{site=\"a\"} 0\n") != std::string::npos);
  CHECK(m.body.find("fedra_runs{status=\"running\"} 0\n") != std::string::npos);
  // Every sample line is "name{labels} value".
  std::istringstream lines(m.body);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("#")) continue;
    CHECK_MESSAGE(line.find("} ") != std::string::npos, line);
  }
  // A site that is down is up 0, and its counters are absent.
  a.sites.Stop("a");
  const ApiResponse down = a.Call("GET", "/api/v1/metrics", "", "viewer-token");
  CHECK(down.body.find("fedra_site_up{site=\"a\"} 0\n") != std::string::npos);
  CHECK(down.body.find("fedra_site_requests_total{site") == std::string::npos);
}

TEST_CASE("metrics count the time jobs and their training rounds took, and the restarts of sites") {
  Api a;
  const ApiResponse before = a.Call("GET", "/api/v1/metrics", "", "viewer-token");
  CHECK(before.body.find("fedra_jobs_ended_total{status=\"finished\"} 0\n") != std::string::npos);
  CHECK(before.body.find("fedra_site_restarts_total{site=\"a\"} 0\n") != std::string::npos);
  const ApiResponse submitted = a.Call("POST", "/api/v1/jobs", R"({"algorithm": "nn",
      "data": {"dataset": "t", "label": "y"}, "model": {"hidden": [3], "output": "linear"},
      "ps": {"epochs": 4, "batch_size": 8}})");
  REQUIRE_MESSAGE(submitted.status == 201, submitted.body);
  const std::string run =
      "/api/v1/jobs/" + std::to_string(nlohmann::json::parse(submitted.body)["run_id"].get<int64_t>());
  REQUIRE(testing::WaitFor([&] { return a.Call("GET", run).body.find("\"status\":\"finished\"") != std::string::npos; },
                           std::chrono::seconds(30)));
  // The runner counts a job once it has recorded it.
  REQUIRE(testing::WaitFor([&] { return a.runner->timings().jobs.contains("finished"); }, std::chrono::seconds(10)));
  a.sites.Stop("a");
  a.sites.Start("a");
  const ApiResponse after = a.Call("GET", "/api/v1/metrics", "", "viewer-token");
  CHECK(after.body.find("fedra_jobs_ended_total{status=\"finished\"} 1\n") != std::string::npos);
  CHECK(after.body.find("fedra_training_rounds_total{algorithm=\"nn\"} 4\n") != std::string::npos);
  CHECK(after.body.find("fedra_job_seconds_total{status=\"finished\"} ") != std::string::npos);
  CHECK(after.body.find("fedra_job_seconds_total{status=\"finished\"} 0\n") == std::string::npos);
  // The ping of the metrics request itself met the new incarnation.
  CHECK_MESSAGE(after.body.find("fedra_site_restarts_total{site=\"a\"} 1\n") != std::string::npos, after.body);
}

TEST_CASE("a run shows how its long transfers go, by site, without the transport waiting on the disk") {
  Api a;
  NewRun job;
  job.job = true;
  const int64_t id = *a.db->CreateRun(job);
  const TransferWatch::Listener tell = TransferTags(*a.db, id);
  tell("a", TransferProgress{false, 52'400'000, 100'000'000, 0.5});
  tell("b", TransferProgress{true, 80'000'000, 80'000'000, 2.0});
  const std::string run = "/api/v1/runs/" + std::to_string(id);
  auto tag = [&](const std::string& key) {
    const nlohmann::json got = nlohmann::json::parse(a.Call("GET", run, "", "viewer-token").body);
    for (const auto& t : got["run"]["data"]["tags"]) {
      if (t["key"] == key) return t["value"].get<std::string>();
    }
    return std::string();
  };
  REQUIRE(testing::WaitFor([&] { return !tag("fedra.transfer.b").empty(); }, std::chrono::seconds(10)));
  CHECK(tag("fedra.transfer.a") == "receiving 52.4 of 100.0 MB in 0.5 s (105 MB/s)");
  CHECK(tag("fedra.transfer.b") == "sending 80.0 of 80.0 MB in 2.0 s (40 MB/s)");
}

TEST_CASE("unknown paths are 404; known paths with another method are 405, naming what is allowed") {
  Api a;
  CHECK(a.Call("GET", "/api/v1/nothing").status == 404);
  CHECK(a.Call("GET", "/elsewhere").status == 404);
  CHECK(a.Call("GET", "/api/v1/runs/1/metrics").status == 404);  // a prefix of a route is no route
  const ApiResponse put = a.Call("PUT", "/api/v1/health");
  CHECK(put.status == 405);
  CHECK(Message(put).find("allowed: GET") != std::string::npos);
  // A literal segment outranks a wildcard: runs/log-batch is not run "log-batch".
  const ApiResponse log_batch = a.Call("GET", "/api/v1/runs/log-batch");
  CHECK(log_batch.status == 405);
  CHECK(Message(log_batch).find("allowed: POST") != std::string::npos);
  const ApiResponse jobs = a.Call("DELETE", "/api/v1/jobs");
  CHECK(jobs.status == 405);
  CHECK(Message(jobs).find("allowed: GET, POST") != std::string::npos);
  CHECK(a.Call("GET", "/api/v1/algorithms/").status == 200);  // a trailing slash names the same resource
}

TEST_CASE("each route checks its role") {
  Api a;
  CHECK(a.Call("GET", "/api/v1/audit", "", "viewer-token").status == 403);
  CHECK(a.Call("GET", "/api/v1/audit", "", "op-token").status == 200);
  CHECK(a.Call("POST", "/api/v1/runs", R"({"experiment": "e"})", "viewer-token").status == 403);
  CHECK(a.Call("GET", "/api/v1/health", "", "nobody").status == 401);
}

TEST_CASE("paths and queries are percent-decoded; '+' is a space in a query only") {
  Api a;
  const ApiResponse created = a.Call("POST", "/api/v1/runs", R"({"experiment": "e"})");
  REQUIRE(created.status == 201);
  const int64_t run = nlohmann::json::parse(created.body)["run_id"];
  const std::string log =
      nlohmann::json{
          {"run_id", run},
          {"metrics",
           {{{"key", "loss rate"}, {"value", 1.5}, {"step", 1}}, {{"key", "a+b"}, {"value", 2.5}, {"step", 1}}}}}
          .dump();
  REQUIRE(a.Call("POST", "/api/v1/runs/log-batch", log).status == 200);
  const std::string runs = "/api/v1/runs/" + std::to_string(run);
  const ApiResponse spaced = a.Call("GET", runs + "/metrics/loss%20rate?max_points=1%30");
  REQUIRE(spaced.status == 200);
  CHECK(nlohmann::json::parse(spaced.body)["metrics"][0]["value"] == 1.5);
  CHECK(a.Call("GET", runs + "/metrics/a+b").status == 200);
  CHECK(a.Call("GET", runs + "/metrics/loss%20rate?max_points=1+0").status == 400);  // "1 0"
  std::string escaped_id;  // the run id with every digit percent-escaped
  for (char digit : std::to_string(run)) escaped_id += "%3" + std::string(1, digit);
  CHECK(a.Call("GET", "/api/v1/runs/" + escaped_id).status == 200);
  CHECK(a.Call("GET", "/api/v1/health?%zz").status == 400);  // a malformed escape
}

}  // namespace fedra
