// The REST API over real HTTPS, against a real `fedra-master serve` process, real sites and a
// real SQLite file: each resource's success shape, the errors (400, 401, 403, 404, 405, 409,
// 413), background jobs with cancellation, and many clients writing and reading at once.
#include <doctest/doctest.h>

#include <atomic>
#include <csignal>
#include <random>
#include <thread>

#include "tests/support/child_process.h"
#include "tests/support/https_client.h"
#include "tests/support/local_federation.h"
#include "tests/support/temp_dir.h"

namespace fedra {
namespace {

using testing::ChildProcess;
using testing::HttpsClient;
using testing::LocalFederation;
using testing::TempDir;

Matrix Regression(int rows, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> x(0, 1), noise(0, 0.1);
  Matrix m(rows, 3);
  for (int i = 0; i < rows; ++i) {
    m(i, 0) = x(rng);
    m(i, 1) = x(rng);
    m(i, 2) = 1 + 2 * m(i, 0) - m(i, 1) + noise(rng);
  }
  return m;
}

Matrix Uniform(int rows, int cols, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  Matrix m(rows, cols);
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = u(rng);
  return m;
}

struct Server {
  TempDir dir;
  LocalFederation local{dir.path(), {"a", "b"}};
  ChildProcess master;
  uint16_t port = 0;
  std::string operator_token, viewer_token;

  Server() {
    local.AddSplitCsvDataset("reg", Regression(300, 1), {120, 180}, {"u", "v", "y"}, "private-aggregate");
    local.AddSplitCsvDataset("noise", Uniform(60000, 4, 2), {25000, 35000}, {"p", "q", "r", "s"}, "public");
    local.StartAll();
    // Tokens from the real provisioning tool, into the existing master kit.
    const std::string cmd = std::string(FEDRA_PROVISION) + " --out '" + dir.path().string() +
                            "' --master m --token op=operator --token view=viewer > '" + (dir / "tokens.log").string() +
                            "' 2>&1";
    REQUIRE(std::system(cmd.c_str()) == 0);
    auto read_token = [&](const char* name) {
      std::string t = testing::ReadFile(local.master_kit() / "tokens" / (std::string(name) + ".token"));
      while (!t.empty() && (t.back() == '\n')) t.pop_back();
      return t;
    };
    operator_token = read_token("op");
    viewer_token = read_token("view");
    const auto federation = local.WriteFederationJson(dir / "federation.json");
    master = ChildProcess({FEDRA_MASTER_BIN, "serve", "--federation", federation.string(), "--db",
                           (dir / "fedra.db").string(), "--listen", "127.0.0.1:0", "--tokens",
                           (local.master_kit() / "api-tokens").string(), "--ready-file", (dir / "ready").string()},
                          dir / "master.log");
    REQUIRE_MESSAGE(testing::WaitFor([&] { return std::filesystem::exists(dir / "ready"); }, std::chrono::seconds(20)),
                    testing::ReadFile(dir / "master.log"));
    port = static_cast<uint16_t>(std::stoi(testing::ReadFile(dir / "ready")));
  }

  HttpsClient Client(const std::string& token) const { return HttpsClient(local.master_kit() / "ca.crt", port, token); }

  // Waits until the run has ended; returns its run resource.
  nlohmann::json WaitForEnd(HttpsClient& client, int64_t run) const {
    nlohmann::json last;
    const bool ended = testing::WaitFor(
        [&] {
          Result<testing::HttpReply> r = client.Get("/api/v1/jobs/" + std::to_string(run));
          if (!r.ok() || r->status != 200) return false;
          last = r->Json()["run"];
          const std::string status = last["info"]["status"];
          return status != "scheduled" && status != "running";
        },
        std::chrono::seconds(60));
    REQUIRE_MESSAGE(ended, last.dump());
    return last;
  }
};

void CheckError(const Result<testing::HttpReply>& r, int status, const std::string& code, const std::string& text = "") {
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  CHECK_MESSAGE(r->status == status, r->body);
  CHECK(r->content_type == "application/json");
  const nlohmann::json body = r->Json();
  CHECK(body["error_code"] == code);
  if (!text.empty()) CHECK_MESSAGE(body["message"].get<std::string>().find(text) != std::string::npos, r->body);
}

}  // namespace

TEST_CASE("the REST API: resources, jobs, errors and many clients over real HTTPS") {
  Server s;
  HttpsClient op = s.Client(s.operator_token);
  HttpsClient viewer = s.Client(s.viewer_token);

  SUBCASE("health and authentication") {
    Result<testing::HttpReply> health = viewer.Get("/api/v1/health");
    REQUIRE(health.ok());
    CHECK(health->status == 200);
    CHECK(health->Json()["status"] == "ok");
    CHECK(health->Json()["principal"] == "view");
    HttpsClient anonymous = s.Client("");
    CheckError(anonymous.Get("/api/v1/health"), 401, "UNAUTHENTICATED", "bearer token is required");
    HttpsClient wrong = s.Client("not-a-token");
    CheckError(wrong.Get("/api/v1/runs/1"), 401, "UNAUTHENTICATED", "unknown token");
    CheckError(viewer.Get("/api/v1/nothing"), 404, "NOT_FOUND");
    CheckError(viewer.Request("PUT", "/api/v1/health"), 405, "METHOD_NOT_ALLOWED");
  }

  SUBCASE("sites list their datasets with shapes and privacy, never paths") {
    Result<testing::HttpReply> r = viewer.Get("/api/v1/sites");
    REQUIRE(r.ok());
    REQUIRE(r->status == 200);
    const nlohmann::json sites = r->Json()["sites"];
    REQUIRE(sites.size() == 2);
    for (const auto& site : sites) {
      CHECK(site["online"] == true);
      CHECK(site["last_seen"].is_number());
      bool found = false;
      for (const auto& d : site["datasets"]) {
        if (d["name"] == "reg") {
          found = true;
          CHECK(d["privacy"] == "private-aggregate");
          CHECK(d["columns"].size() == 3);
        }
      }
      CHECK(found);
    }
    CHECK(r->body.find(".csv") == std::string::npos);
  }

  SUBCASE("a submitted job runs in the background and is recorded with its metrics and model") {
    CheckError(viewer.Post("/api/v1/jobs", {{"algorithm", "lm"}}), 403, "PERMISSION_DENIED", "viewer");
    CheckError(op.Request("POST", "/api/v1/jobs", "{not json"), 400, "INVALID_ARGUMENT");
    CheckError(op.Post("/api/v1/jobs", {{"algorithm", "svm"}, {"data", {{"dataset", "reg"}, {"label", "y"}}}}), 400,
               "INVALID_ARGUMENT", "unknown algorithm 'svm'");
    CheckError(op.Post("/api/v1/jobs", {{"algorithm", "lm"}, {"data", {{"dataset", "reg"}, {"label", "y"}}},
                                        {"params", {{"lamda", 1}}}}),
               400, "INVALID_ARGUMENT", "lamda");

    Result<testing::HttpReply> submitted =
        op.Post("/api/v1/jobs", {{"algorithm", "logreg"},
                                 {"experiment", "churn"},
                                 {"data", {{"dataset", "reg"}, {"label", "y"}}},
                                 {"params", {{"lambda", 0.1}}}});
    REQUIRE(submitted.ok());
    // Labels must be classes: this job fails, and the failure is recorded with its reason.
    REQUIRE(submitted->status == 201);
    const nlohmann::json failed = s.WaitForEnd(viewer, submitted->Json()["run_id"]);
    CHECK(failed["info"]["status"] == "failed");
    CHECK(failed["info"]["error"].get<std::string>().find("labels must be integers") != std::string::npos);

    submitted = op.Post("/api/v1/jobs", {{"algorithm", "lmCG"},
                                         {"experiment", "housing"},
                                         {"data", {{"dataset", "reg"}, {"label", "y"}}},
                                         {"params", {{"lambda", 0.01}}}});
    REQUIRE(submitted.ok());
    REQUIRE(submitted->status == 201);
    const int64_t run = submitted->Json()["run_id"];
    const nlohmann::json done = s.WaitForEnd(viewer, run);
    CHECK(done["info"]["status"] == "finished");
    CHECK(done["info"]["submitted_by"] == "op");
    CHECK(done["result"]["coefficients"].contains("u"));
    CHECK(done["spec"]["params"]["lambda"] == 0.01);
    bool has_r2 = false;
    for (const auto& m : done["data"]["metrics"]) has_r2 |= m["key"] == "r2";
    CHECK(has_r2);

    Result<testing::HttpReply> history = viewer.Get("/api/v1/runs/" + std::to_string(run) + "/metrics/residual_norm2?max_points=2");
    REQUIRE(history.ok());
    CHECK(history->status == 200);
    CHECK(history->Json()["total_points"].get<int>() >= 2);
    CHECK(history->Json()["metrics"].size() == 2);
    CheckError(viewer.Get("/api/v1/runs/" + std::to_string(run) + "/metrics/r2?max_points=1"), 400, "INVALID_ARGUMENT",
               "max_points");

    Result<testing::HttpReply> experiments = viewer.Get("/api/v1/experiments");
    REQUIRE(experiments.ok());
    nlohmann::json housing;
    const nlohmann::json listed = experiments->Json();
    for (const auto& e : listed["experiments"]) {
      if (e["name"] == "housing") housing = e;
    }
    REQUIRE_MESSAGE(housing.is_object(), experiments->body);
    Result<testing::HttpReply> runs = viewer.Get("/api/v1/experiments/" + std::to_string(housing["experiment_id"].get<int64_t>()) + "/runs");
    REQUIRE(runs.ok());
    REQUIRE(runs->Json()["runs"].size() == 1);
    CHECK(runs->Json()["runs"][0]["info"]["run_id"] == run);

    Result<testing::HttpReply> models = viewer.Get("/api/v1/runs/" + std::to_string(run) + "/models");
    REQUIRE(models.ok());
    REQUIRE(models->Json()["models"].size() == 1);
    CHECK(models->Json()["models"][0]["shapes"]["coefficients"][0] == 3);
    Result<testing::HttpReply> model = viewer.Get("/api/v1/runs/" + std::to_string(run) + "/models/model");
    REQUIRE(model.ok());
    CHECK(model->status == 200);
    CHECK(model->content_type == "application/octet-stream");
    CHECK(nlohmann::json::parse(model->body)["coefficients"] == done["result"]["coefficients"]);

    CheckError(op.Post("/api/v1/jobs/" + std::to_string(run) + "/cancel", nlohmann::json::object()), 409,
               "FAILED_PRECONDITION", "already ended");
    CheckError(viewer.Get("/api/v1/runs/99999"), 404, "NOT_FOUND", "no run 99999");
    CheckError(viewer.Get("/api/v1/runs/abc"), 400, "INVALID_ARGUMENT", "run id");
  }

  SUBCASE("a cancelled job stops at an iteration boundary and is recorded as cancelled") {
    Result<testing::HttpReply> submitted =
        op.Post("/api/v1/jobs", {{"algorithm", "kmeans"},
                                 {"data", {{"dataset", "noise"}}},
                                 {"params", {{"k", 30}, {"restarts", 20}, {"tolerance", 0}, {"max_iterations", 100000}}}});
    REQUIRE(submitted.ok());
    REQUIRE(submitted->status == 201);
    const int64_t run = submitted->Json()["run_id"];
    // Wait until it is running, then cancel.
    REQUIRE(testing::WaitFor(
        [&] { return viewer.Get("/api/v1/jobs/" + std::to_string(run))->Json()["run"]["info"]["status"] == "running"; },
        std::chrono::seconds(30)));
    Result<testing::HttpReply> cancel = op.Post("/api/v1/jobs/" + std::to_string(run) + "/cancel", nlohmann::json::object());
    REQUIRE(cancel.ok());
    CHECK(cancel->status == 202);
    const nlohmann::json ended = s.WaitForEnd(viewer, run);
    CHECK(ended["info"]["status"] == "cancelled");
    CHECK(ended["info"]["error"].get<std::string>().find("cancelled") != std::string::npos);
  }

  SUBCASE("oversized bodies get 413 and the server keeps serving") {
    const std::string huge(5 << 20, 'x');
    CheckError(op.Request("POST", "/api/v1/runs/log-batch", huge), 413, "RESOURCE_EXHAUSTED", "over the limit");
    CHECK(viewer.Get("/api/v1/health")->status == 200);
  }

  SUBCASE("many clients log metrics and read runs at once: no error, no lost row") {
    Result<testing::HttpReply> created = op.Post("/api/v1/runs", {{"experiment", "load"}, {"run_name", "external"}});
    REQUIRE(created.ok());
    REQUIRE(created->status == 201);
    const int64_t run = created->Json()["run_id"];
    CheckError(op.Post("/api/v1/runs/log-batch", {{"run_id", run}, {"metrics", {{{"key", "loss"}}}}}), 400,
               "INVALID_ARGUMENT", "metrics[0].value");
    constexpr int kClients = 12, kBatches = 10, kPerBatch = 100;
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int c = 0; c < kClients; ++c) {
      threads.emplace_back([&, c] {
        HttpsClient client = s.Client(s.operator_token);
        for (int b = 0; b < kBatches; ++b) {
          nlohmann::json metrics = nlohmann::json::array();
          for (int i = 0; i < kPerBatch; ++i) {
            metrics.push_back({{"key", "loss"}, {"value", 1.0 / (i + 1)}, {"timestamp", 1.7e12}, {"step", (c * kBatches + b) * kPerBatch + i}});
          }
          Result<testing::HttpReply> r = client.Post("/api/v1/runs/log-batch", {{"run_id", run}, {"metrics", metrics}});
          if (!r.ok() || r->status != 200) ++failures;
          Result<testing::HttpReply> read = client.Get("/api/v1/runs/" + std::to_string(run));
          if (!read.ok() || read->status != 200) ++failures;
        }
      });
    }
    for (auto& t : threads) t.join();
    CHECK(failures == 0);
    Result<testing::HttpReply> history = viewer.Get("/api/v1/runs/" + std::to_string(run) + "/metrics/loss?max_points=100000");
    REQUIRE(history.ok());
    CHECK(history->Json()["total_points"] == kClients * kBatches * kPerBatch);
    Result<testing::HttpReply> finished = op.Post("/api/v1/runs/" + std::to_string(run) + "/status", {{"status", "finished"}});
    REQUIRE(finished.ok());
    CHECK(finished->status == 200);
    CheckError(op.Post("/api/v1/runs/" + std::to_string(run) + "/status", {{"status", "done"}}), 400, "INVALID_ARGUMENT",
               "unknown value 'done'");
  }

  // SIGTERM stops the server cleanly.
  s.master.Signal(SIGTERM);
  CHECK(s.master.Wait(std::chrono::seconds(30)) == 0);
}

}  // namespace fedra
