// The REST API's costs, end to end over HTTPS on loopback against an in-process server, each next
// to the same work done directly on the experiment database in the same run:
//   - logging a batch of 1,000 metrics (POST /api/v1/runs/log-batch);
//   - listing 1,000 runs with their latest metrics (GET /api/v1/jobs?limit=1000);
//   - searching them with MLflow's filter and order_by (POST /api/2.0/mlflow/runs/search);
//   - GET throughput and p99 latency with 64 concurrent keep-alive connections (wrk, when
//     installed; scripts/install-deps installs it).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

#include "common/digest.h"
#include "master/api/rest_api.h"
#include "master/api/rest_server.h"
#include "master/jobs/job_runner.h"
#include "master/tracking/experiment_db.h"
#include "tests/support/https_client.h"
#include "tests/support/local_federation.h"
#include "tests/support/temp_dir.h"

namespace {
using Clock = std::chrono::steady_clock;
double Ms(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int Fail(const fedra::Status& s) {
  std::fprintf(stderr, "bench_rest: %s\n", s.ToString().c_str());
  return 1;
}
}  // namespace

int main() {
  using namespace fedra;
  testing::TempDir dir("fedra-bench-rest");
  testing::LocalFederation local(dir.path(), {"a"});
  local.StartAll();
  auto fed = local.Connect();
  auto db = ExperimentDb::Open(dir / "fedra.db");
  if (!db.ok()) return Fail(db.status());
  const std::string token = "bench-token";
  ApiTokens tokens;
  if (Status s = tokens.Add("bench", "operator", Sha256Hex(token)); !s.ok()) return Fail(s);
  JobRunner runner(*fed, **db);
  RestApi api(*fed, **db, runner, tokens);
  RestServerOptions options;
  options.port = 0;
  auto server = RestServer::Create(options, local.master_tls(), api, nullptr);
  if (!server.ok()) return Fail(server.status());
  std::thread serving([&] { (*server)->Run(false); });
  testing::HttpsClient client(local.master_kit() / "ca.crt", (*server)->port(), token);

  auto batch = [](int n, int base) {
    nlohmann::json metrics = nlohmann::json::array();
    for (int i = 0; i < n; ++i)
      metrics.push_back({{"key", "loss"}, {"value", 1.0 / (i + 1)}, {"timestamp", 1.7e9}, {"step", base + i}});
    return metrics;
  };
  auto points = [](int n, int base) {
    std::vector<MetricPoint> v;
    for (int i = 0; i < n; ++i) v.push_back({"loss", base + i, 1.0 / (i + 1), 1.7e9});
    return v;
  };

  // 1. A batch of 1,000 metrics.
  NewRun run;
  run.experiment = "bench";
  const int64_t id = *(*db)->CreateRun(run);
  std::vector<double> rest_ms, direct_ms;
  for (int rep = 0; rep < 30; ++rep) {
    const nlohmann::json body = {{"run_id", id}, {"metrics", batch(1000, rep * 1000)}};
    auto t0 = Clock::now();
    Result<testing::HttpReply> r = client.Post("/api/v1/runs/log-batch", body);
    rest_ms.push_back(Ms(t0));
    if (!r.ok() || r->status != 200) return Fail(r.ok() ? Internal(r->body) : r.status());
    t0 = Clock::now();
    if (Status s = (*db)->LogMetrics(id, points(1000, 100000 + rep * 1000)); !s.ok()) return Fail(s);
    direct_ms.push_back(Ms(t0));
  }
  std::printf(
      "log a batch of 1,000 metrics: REST %.2f ms (median of 30), direct ExperimentDb::LogMetrics %.2f ms, ratio "
      "%.2f\n",
      Median(rest_ms), Median(direct_ms), Median(rest_ms) / Median(direct_ms));

  // 2. Listing 1,000 runs with their latest metrics.
  for (int i = 0; i < 1000; ++i) {
    NewRun r;
    r.experiment = "many";
    r.job = true;  // listed by GET jobs
    r.params = {{"lambda", i * 0.001}, {"dataset", "d"}};
    const int64_t rid = *(*db)->CreateRun(r);
    (void)(*db)->LogMetrics(rid, {{"loss", 1, 0.5, 0}, {"accuracy", 1, 0.9, 0}, {"r2", 1, 0.8, 0}});
  }
  rest_ms.clear();
  direct_ms.clear();
  size_t bytes = 0;
  for (int rep = 0; rep < 20; ++rep) {
    auto t0 = Clock::now();
    Result<testing::HttpReply> r = client.Get("/api/v1/jobs?limit=1000");
    rest_ms.push_back(Ms(t0));
    if (!r.ok() || r->status != 200) return Fail(r.ok() ? Internal(r->body) : r.status());
    bytes = r->body.size();
    if (r->Json()["runs"].size() != 1000)
      return Fail(Internal("GET jobs listed " + r->Json()["runs"].dump().substr(0, 80)));
    t0 = Clock::now();
    if (!(*db)->ListRuns(0, 1000, 0, /*jobs_only=*/true).ok()) return 1;
    direct_ms.push_back(Ms(t0));
  }
  std::printf(
      "list 1,000 runs with latest metrics: REST %.2f ms (%zu KB of JSON), direct ExperimentDb::ListRuns %.2f ms, "
      "ratio %.2f\n",
      Median(rest_ms), bytes / 1024, Median(direct_ms), Median(rest_ms) / Median(direct_ms));

  // 3. MLflow's runs/search over the same 1,000 runs: filter, sort, first page of 100.
  rest_ms.clear();
  direct_ms.clear();
  const nlohmann::json search = {{"filter", "metrics.r2 > 0.5 and params.lambda LIKE '0.1%'"},
                                 {"order_by", {"params.lambda DESC"}},
                                 {"max_results", 100}};
  size_t found = 0;
  for (int rep = 0; rep < 20; ++rep) {
    auto t0 = Clock::now();
    Result<testing::HttpReply> r = client.Post("/api/2.0/mlflow/runs/search", search);
    rest_ms.push_back(Ms(t0));
    if (!r.ok() || r->status != 200) return Fail(r.ok() ? Internal(r->body) : r.status());
    found = r->Json()["runs"].size();
    t0 = Clock::now();
    if (!(*db)->ListRuns(0, 1000, 0, /*jobs_only=*/true).ok()) return 1;
    direct_ms.push_back(Ms(t0));
  }
  std::printf(
      "MLflow runs/search over 1,000 runs (filter on a metric and a param, sorted, %zu found): REST %.2f ms, "
      "direct ExperimentDb::ListRuns %.2f ms, ratio %.2f\n",
      found, Median(rest_ms), Median(direct_ms), Median(rest_ms) / Median(direct_ms));

  // What of a request is fedra's own work: token check, Boost.URL parse, route lookup, handler.
  {
    constexpr int kCalls = 100000;
    const ApiRequest health{"GET", "/api/v1/health?probe=1", "Bearer " + token, ""};
    const auto t0 = Clock::now();
    for (int i = 0; i < kCalls; ++i) {
      if (api.Handle(health).status != 200) return Fail(Internal("GET health failed in process"));
    }
    std::printf("GET /api/v1/health in process (token, URL parse, route, handler): %.2f us per request\n",
                Ms(t0) * 1000.0 / kCalls);
  }

  // 4. GET under load: wrk, 64 keep-alive connections, 10 s.
  if (std::system("command -v wrk > /dev/null 2>&1") == 0) {
    const std::string out = (dir / "wrk.txt").string();
    const std::string cmd = "wrk -t2 -c64 -d10s --latency -H 'Authorization: Bearer " + token +
                            "' https://localhost:" + std::to_string((*server)->port()) + "/api/v1/health > " + out +
                            " 2>&1";
    if (std::system(cmd.c_str()) == 0) {
      std::printf("GET /api/v1/health, 64 connections (wrk -t2 -c64 -d10s):\n%s", testing::ReadFile(out).c_str());
    }
  } else {
    std::printf("GET under load: skipped, wrk is not installed\n");
  }
  (*server)->Stop();
  serving.join();
  return 0;
}
