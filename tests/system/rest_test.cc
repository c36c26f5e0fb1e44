// The REST API over real HTTPS, against a real `fedra-master serve` process, real sites and a
// real SQLite file: each resource's success shape, the errors (400, 401, 403, 404, 405, 409,
// 413), background jobs with cancellation, and many clients writing and reading at once.
#include <doctest/doctest.h>

#include <atomic>
#include <csignal>
#include <thread>

#include "tests/support/serving_master.h"

namespace fedra {
namespace {

using testing::HttpsClient;

void CheckError(const Result<testing::HttpReply>& r, int status, const std::string& code,
                const std::string& text = "") {
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  CHECK_MESSAGE(r->status == status, r->body);
  CHECK(r->content_type == "application/json");
  const nlohmann::json body = r->Json();
  CHECK(body["error_code"] == code);
  if (!text.empty()) CHECK_MESSAGE(body["message"].get<std::string>().find(text) != std::string::npos, r->body);
}

}  // namespace

TEST_CASE("the REST API: resources, jobs, errors and many clients over real HTTPS") {
  testing::ServingMaster s;
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
    // Files are named only in a dataset's own error, by file name, never by folder.
    CHECK(r->body.find("reg.csv") == std::string::npos);
    CHECK(r->body.find(s.dir.path().string()) == std::string::npos);
    CHECK(r->body.find("site-a/") == std::string::npos);
  }

  SUBCASE("each site's audit trail, newest events last, for operators only") {
    Result<testing::HttpReply> catalog = viewer.Get("/api/v1/sites");  // leaves a list_catalog event
    REQUIRE(catalog.ok());
    CheckError(viewer.Get("/api/v1/audit?limit=5"), 403, "PERMISSION_DENIED", "operator token");
    Result<testing::HttpReply> r = op.Get("/api/v1/audit?limit=5");
    REQUIRE(r.ok());
    REQUIRE(r->status == 200);
    const nlohmann::json sites = r->Json()["sites"];
    REQUIRE(sites.size() == 2);
    for (const auto& site : sites) {
      REQUIRE(site["events"].is_array());
      CHECK(site["events"].size() <= 5);
      CHECK(site["events"].back()["request"] == "list_catalog");
      CHECK(site["events"].back()["peer"] == "master 'm'");
      CHECK(site["events"].back()["outcome"] == "done");
    }
    CheckError(op.Get("/api/v1/audit?limit=0"), 400, "INVALID_ARGUMENT", "limit");
  }

  SUBCASE("the algorithms a job may name are listed with their parameters, for viewers too") {
    Result<testing::HttpReply> listed = viewer.Get("/api/v1/algorithms");
    REQUIRE(listed.ok());
    REQUIRE(listed->status == 200);
    const nlohmann::json algorithms = nlohmann::json::parse(listed->body)["algorithms"];
    std::vector<std::string> names;
    for (const auto& a : algorithms) names.push_back(a["name"]);
    CHECK(names == std::vector<std::string>{"lm", "lmCG", "logreg", "kmeans", "pca", "nn"});
    CHECK(algorithms[3]["label"] == "none");
    CHECK(algorithms[3]["params"][0]["name"] == "k");
    CHECK(algorithms[3]["params"][0]["required"] == true);
    CHECK(algorithms[0]["params"][0]["default"] == 0.0);
    CheckError(op.Post("/api/v1/algorithms", nlohmann::json::object()), 405, "METHOD_NOT_ALLOWED");
  }

  SUBCASE("a submitted job runs in the background and is recorded with its metrics and model") {
    CheckError(viewer.Post("/api/v1/jobs", {{"algorithm", "lm"}}), 403, "PERMISSION_DENIED", "viewer");
    CheckError(op.Request("POST", "/api/v1/jobs", "{not json"), 400, "INVALID_ARGUMENT");
    // A body nested 100,000 deep once overflowed the master's stack; it is refused unparsed.
    const std::string deep =
        R"({"algorithm": "lm", "params": )" + std::string(100000, '[') + std::string(100000, ']') + "}";
    CheckError(op.Request("POST", "/api/v1/jobs", deep), 400, "INVALID_ARGUMENT", "nested deeper than 64 levels");
    CheckError(op.Post("/api/v1/jobs", {{"algorithm", "svm"}, {"data", {{"dataset", "reg"}, {"label", "y"}}}}), 400,
               "INVALID_ARGUMENT", "unknown algorithm 'svm'");
    CheckError(
        op.Post("/api/v1/jobs",
                {{"algorithm", "lm"}, {"data", {{"dataset", "reg"}, {"label", "y"}}}, {"params", {{"lamda", 1}}}}),
        400, "INVALID_ARGUMENT", "lamda");
    // The sites' catalogs are asked at submission: a misspelled dataset or column is a 400 that
    // names it, and no run is made.
    CheckError(op.Post("/api/v1/jobs", {{"algorithm", "lm"}, {"data", {{"dataset", "rge"}, {"label", "y"}}}}), 400,
               "INVALID_ARGUMENT", "'rge'");
    CheckError(op.Post("/api/v1/jobs", {{"algorithm", "lm"}, {"data", {{"dataset", "reg"}, {"label", "why"}}}}), 400,
               "INVALID_ARGUMENT", "data.label: unknown column 'why' (columns: u, v, y)");
    CheckError(op.Post("/api/v1/jobs",
                       {{"algorithm", "lm"}, {"data", {{"dataset", "reg"}, {"label", "y"}, {"features", {"u", "w"}}}}}),
               400, "INVALID_ARGUMENT", "data.features: unknown column 'w'");

    Result<testing::HttpReply> submitted = op.Post("/api/v1/jobs", {{"algorithm", "logreg"},
                                                                    {"experiment", "churn"},
                                                                    {"data", {{"dataset", "reg"}, {"label", "y"}}},
                                                                    {"params", {{"lambda", 0.1}}}});
    REQUIRE(submitted.ok());
    // Labels must be classes: a continuous label names none at private-aggregate sites, so this
    // job fails, and the failure is recorded with its reason.
    REQUIRE(submitted->status == 201);
    const nlohmann::json failed = s.WaitForEnd(viewer, submitted->Json()["run_id"]);
    CHECK(failed["info"]["status"] == "failed");
    CHECK_MESSAGE(
        failed["info"]["error"].get<std::string>().find("column 'y': as a label it holds 1 class") != std::string::npos,
        failed["info"]["error"]);

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
    CHECK(done["result"]["coefficients"][1]["name"] == "u");
    CHECK(done["spec"]["params"]["lambda"] == 0.01);
    bool has_r2 = false;
    for (const auto& m : done["data"]["metrics"]) has_r2 |= m["key"] == "r2";
    CHECK(has_r2);

    Result<testing::HttpReply> history =
        viewer.Get("/api/v1/runs/" + std::to_string(run) + "/metrics/residual_norm2?max_points=2");
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
    Result<testing::HttpReply> runs =
        viewer.Get("/api/v1/experiments/" + std::to_string(housing["experiment_id"].get<int64_t>()) + "/runs");
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
    CHECK(model->content_type == "application/json");
    const nlohmann::json saved = nlohmann::json::parse(model->body);
    CHECK(saved["format"] == "fedra-model");
    CHECK(saved["algorithm"] == "lmCG");
    CHECK(saved["run_id"] == run);
    CHECK(saved["features"] == nlohmann::json::array({"u", "v"}));
    CHECK(saved["label"] == "y");
    CHECK(saved["inputs"] == nlohmann::json::array({"u", "v"}));
    CHECK(saved["coefficients"] == done["result"]["coefficients"]);
    Result<testing::HttpReply> onnx = viewer.Get("/api/v1/runs/" + std::to_string(run) + "/models/model?format=onnx");
    REQUIRE(onnx.ok());
    CHECK(onnx->status == 200);
    CHECK(onnx->content_type == "application/octet-stream");
    CHECK(onnx->body.find("fedra_lmCG") != std::string::npos);  // the graph's name, in the protobuf
    CheckError(viewer.Get("/api/v1/runs/" + std::to_string(run) + "/models/model?format=pmml"), 400, "INVALID_ARGUMENT",
               "\"onnx\"");

    // Evaluate names the model by its run; the recorded spec holds the document it used. Scoring
    // exact statistics of a master's model on private-aggregate rows is the owner's choice, which
    // this site has not made: the run fails with the site's reason.
    CheckError(op.Post("/api/v1/jobs",
                       {{"algorithm", "evaluate"}, {"model", {{"run", 99999}}}, {"data", {{"dataset", "reg"}}}}),
               404, "NOT_FOUND", "99999");
    submitted =
        op.Post("/api/v1/jobs", {{"algorithm", "evaluate"}, {"model", {{"run", run}}}, {"data", {{"dataset", "reg"}}}});
    REQUIRE(submitted.ok());
    REQUIRE_MESSAGE(submitted->status == 201, submitted->body);
    const nlohmann::json scored = s.WaitForEnd(viewer, submitted->Json()["run_id"]);
    CHECK(scored["spec"]["model"] == saved);
    CHECK(scored["info"]["status"] == "failed");
    CHECK_MESSAGE(scored["info"]["error"].get<std::string>().find("allow_training") != std::string::npos,
                  scored["info"]["error"]);

    CheckError(op.Post("/api/v1/jobs/" + std::to_string(run) + "/cancel", nlohmann::json::object()), 409,
               "FAILED_PRECONDITION", "already ended");
    CheckError(op.Post("/api/v1/runs/" + std::to_string(run) + "/status", {{"status", "running"}}), 409,
               "FAILED_PRECONDITION", "is a job the master runs");
    CheckError(viewer.Get("/api/v1/runs/99999"), 404, "NOT_FOUND", "no run 99999");
    CheckError(viewer.Get("/api/v1/runs/abc"), 400, "INVALID_ARGUMENT", "run id");
  }

  SUBCASE("a script job records its script, arguments, prints, writes and metrics; bad scripts are named") {
    const std::string script =
        "X = read($data)\nG = t(X) %*% X\nm = colMeans(X)\nfor (i in 1:3) log_metric(\"trace\", sum(diag(G)) * i, i)\n"
        "print(\"rows: \" + nrow(X))\nwrite(m, \"means\", format=\"csv\")\n"
        "save_model(m, \"kmeans\", $data, name=\"centre\")\n";
    Result<testing::HttpReply> submitted =
        op.Post("/api/v1/jobs", {{"script", script}, {"args", {{"data", "reg:u,v"}}}, {"name", "gram"}});
    REQUIRE(submitted.ok());
    REQUIRE_MESSAGE(submitted->status == 201, submitted->body);
    const int64_t run = submitted->Json()["run_id"];
    const nlohmann::json done = s.WaitForEnd(viewer, run);
    REQUIRE_MESSAGE(done["info"]["status"] == "finished", done.dump());
    CHECK(done["info"]["run_name"] == "script gram");
    CHECK(done["spec"]["script"] == script);
    CHECK(done["result"]["printed"] == nlohmann::json::array({"rows: 300"}));
    CHECK(done["result"]["outputs"]["means"].get<std::string>().find(',') != std::string::npos);
    CHECK(done["result"]["batches"] == 1);  // G and m together
    bool has_arg = false;
    for (const auto& p : done["data"]["params"]) has_arg |= p["key"] == "$data" && p["value"] == "reg:u,v";
    CHECK_MESSAGE(has_arg, done["data"]["params"]);
    Result<testing::HttpReply> trace = viewer.Get("/api/v1/runs/" + std::to_string(run) + "/metrics/trace");
    REQUIRE(trace.ok());
    REQUIRE(trace->Json()["metrics"].size() == 3);
    CHECK(trace->Json()["metrics"][2]["step"] == 3);
    // The model it declared is saved under its name, whole.
    Result<testing::HttpReply> centre = viewer.Get("/api/v1/runs/" + std::to_string(run) + "/models/centre");
    REQUIRE(centre.ok());
    REQUIRE_MESSAGE(centre->status == 200, centre->body);
    CHECK(centre->Json()["algorithm"] == "kmeans");
    CHECK(centre->Json()["dataset"] == "reg");
    CHECK(centre->Json()["features"] == nlohmann::json::array({"u", "v"}));
    CHECK(centre->Json()["run_id"] == run);

    // A syntax error is refused at submission, with where it is.
    CheckError(op.Post("/api/v1/jobs", {{"script", "x = (1 + \n"}}), 400, "INVALID_ARGUMENT", "line 2, column 1");
    // A runtime error fails the run, naming the line.
    submitted = op.Post("/api/v1/jobs", {{"script", "X = read(\"reg\")\ny = frobnicate(X)\n"}});
    REQUIRE(submitted.ok());
    const nlohmann::json failed = s.WaitForEnd(viewer, submitted->Json()["run_id"]);
    CHECK(failed["info"]["status"] == "failed");
    CHECK_MESSAGE(
        failed["info"]["error"].get<std::string>().find("line 2: unknown function 'frobnicate'") != std::string::npos,
        failed["info"]["error"]);

    // A script that loops stops when cancelled.
    submitted = op.Post("/api/v1/jobs", {{"script", "i = 0\nwhile (TRUE) i = i + 1\n"}});
    REQUIRE(submitted.ok());
    const int64_t looping = submitted->Json()["run_id"];
    REQUIRE(testing::WaitFor(
        [&] {
          return viewer.Get("/api/v1/jobs/" + std::to_string(looping))->Json()["run"]["info"]["status"] == "running";
        },
        std::chrono::seconds(30)));
    REQUIRE(op.Post("/api/v1/jobs/" + std::to_string(looping) + "/cancel", nlohmann::json::object())->status == 202);
    CHECK(s.WaitForEnd(viewer, looping)["info"]["status"] == "cancelled");
  }

  SUBCASE("a cancelled job stops at an iteration boundary and is recorded as cancelled") {
    Result<testing::HttpReply> submitted = op.Post(
        "/api/v1/jobs", {{"algorithm", "kmeans"},
                         {"data", {{"dataset", "noise"}}},
                         {"params", {{"k", 30}, {"restarts", 20}, {"tolerance", 0}, {"max_iterations", 100000}}}});
    REQUIRE(submitted.ok());
    REQUIRE(submitted->status == 201);
    const int64_t run = submitted->Json()["run_id"];
    // Wait until it is running, then cancel.
    REQUIRE(testing::WaitFor(
        [&] { return viewer.Get("/api/v1/jobs/" + std::to_string(run))->Json()["run"]["info"]["status"] == "running"; },
        std::chrono::seconds(30)));
    Result<testing::HttpReply> cancel =
        op.Post("/api/v1/jobs/" + std::to_string(run) + "/cancel", nlohmann::json::object());
    REQUIRE(cancel.ok());
    CHECK(cancel->status == 202);
    const nlohmann::json ended = s.WaitForEnd(viewer, run);
    CHECK(ended["info"]["status"] == "cancelled");
    CHECK(ended["info"]["error"].get<std::string>().find("cancelled") != std::string::npos);
  }

  SUBCASE("a cancelled training keeps the model of its last checkpoint") {
    Result<testing::HttpReply> submitted =
        op.Post("/api/v1/jobs",
                {{"algorithm", "nn"},
                 {"data", {{"dataset", "noise"}, {"label", "s"}}},
                 {"model", {{"hidden", {4}}, {"output", "linear"}}},
                 {"ps", {{"strategy", "bsp"}, {"epochs", 100000}, {"batch_size", 256}, {"checkpoint_every", 1}}}});
    REQUIRE(submitted.ok());
    REQUIRE_MESSAGE(submitted->status == 201, submitted->body);
    const int64_t run = submitted->Json()["run_id"];
    const std::string history = "/api/v1/runs/" + std::to_string(run) + "/metrics/loss";
    REQUIRE(testing::WaitFor(
        [&] {
          Result<testing::HttpReply> h = viewer.Get(history);
          return h.ok() && h->status == 200 && h->Json()["metrics"].size() >= 2;
        },
        std::chrono::seconds(60)));
    REQUIRE(op.Post("/api/v1/jobs/" + std::to_string(run) + "/cancel", nlohmann::json::object())->status == 202);
    CHECK(s.WaitForEnd(viewer, run)["info"]["status"] == "cancelled");
    Result<testing::HttpReply> model = viewer.Get("/api/v1/runs/" + std::to_string(run) + "/models/model");
    REQUIRE(model.ok());
    REQUIRE_MESSAGE(model->status == 200, model->body);
    const nlohmann::json saved = model->Json();
    CHECK(saved["algorithm"] == "nn");
    CHECK(saved["partial"]["round"].get<int64_t>() >= 2);
    CHECK(saved["model"]["hidden"] == nlohmann::json::array({4}));
    CHECK(saved["parameters"].size() == 3 * 4 + 4 + 4 * 1 + 1);  // 3 inputs, 4 hidden, 1 output
    // The run records every setting, defaults filled in, under flat keys; totals have their own.
    const nlohmann::json recorded = viewer.Get("/api/v1/runs/" + std::to_string(run))->Json()["run"]["data"];
    std::map<std::string, nlohmann::json> params, metrics;
    for (const auto& p : recorded["params"]) params[p["key"]] = p["value"];
    for (const auto& m : recorded["metrics"]) metrics[m["key"]] = m["value"];
    CHECK(params["model.hidden"] == "[4]");
    CHECK(params["ps.strategy"] == "bsp");
    CHECK(params["ps.checkpoint_every"] == "1");
    CHECK(params.contains("optimizer.lr"));
    CHECK(params["dataset"] == "noise");
    // The checkpoint carries the layers as the data resolved them, and the columns: it can be used.
    CHECK(saved["model"]["inputs"] == 3);
    CHECK(saved["model"]["outputs"] == 1);
    CHECK(saved["label"] == "s");
    CHECK(saved["features"].size() == 3);
    Result<testing::HttpReply> evaluated = op.Post(
        "/api/v1/jobs", {{"algorithm", "evaluate"}, {"model", {{"run", run}}}, {"data", {{"dataset", "noise"}}}});
    REQUIRE(evaluated.ok());
    REQUIRE_MESSAGE(evaluated->status == 201, evaluated->body);
    const nlohmann::json scored = s.WaitForEnd(viewer, evaluated->Json()["run_id"]);
    CHECK_MESSAGE(scored["info"]["status"] == "finished", scored.dump());
    CHECK(scored["result"]["metrics"].contains("rmse"));
  }

  SUBCASE("a body hidden behind a Transfer-Encoding Beast does not read is refused, not run as a request") {
    const std::string smuggled = "GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n";
    Result<testing::HttpReply> r =
        op.Request("POST", "/api/v1/runs", smuggled, {{"Transfer-Encoding", "chunked, identity"}});
    REQUIRE(r.ok());
    CHECK(r->status == 400);
    CHECK_MESSAGE(r->body.find("unsupported Transfer-Encoding") != std::string::npos, r->body);
    CHECK(viewer.Get("/api/v1/health")->status == 200);
  }

  SUBCASE("MLflow's tracking API answers over the same HTTPS, with MLflow's shapes and errors") {
    Result<testing::HttpReply> created = op.Post("/api/2.0/mlflow/experiments/create", {{"name", "mlflow-client"}});
    REQUIRE(created.ok());
    REQUIRE_MESSAGE(created->status == 200, created->body);
    const std::string experiment = created->Json()["experiment_id"];
    Result<testing::HttpReply> run = op.Post("/api/2.0/mlflow/runs/create", {{"experiment_id", experiment}});
    REQUIRE(run.ok());
    const std::string id = run->Json()["run"]["info"]["run_id"];
    REQUIRE(op.Post("/api/2.0/mlflow/runs/log-metric",
                    {{"run_id", id}, {"key", "loss"}, {"value", 0.5}, {"timestamp", 1700000000000}, {"step", 1}})
                ->status == 200);
    Result<testing::HttpReply> history =
        viewer.Get("/api/2.0/mlflow/metrics/get-history?run_id=" + id + "&metric_key=loss");
    REQUIRE(history.ok());
    CHECK(history->Json()["metrics"][0]["timestamp"] == 1700000000000);
    Result<testing::HttpReply> missing = viewer.Get("/api/2.0/mlflow/runs/get?run_id=99999");
    REQUIRE(missing.ok());
    CHECK(missing->status == 404);
    CHECK(missing->Json()["error_code"] == "RESOURCE_DOES_NOT_EXIST");
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
    // Tracked from outside, not a job: the master has nothing to cancel.
    CheckError(viewer.Get("/api/v1/jobs/" + std::to_string(run)), 404, "NOT_FOUND", "is not a job");
    CheckError(op.Post("/api/v1/jobs/" + std::to_string(run) + "/cancel", nlohmann::json::object()), 404, "NOT_FOUND",
               "is not a job");
    constexpr int kClients = 12, kBatches = 10, kPerBatch = 100;
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int c = 0; c < kClients; ++c) {
      threads.emplace_back([&, c] {
        HttpsClient client = s.Client(s.operator_token);
        for (int b = 0; b < kBatches; ++b) {
          nlohmann::json metrics = nlohmann::json::array();
          for (int i = 0; i < kPerBatch; ++i) {
            metrics.push_back({{"key", "loss"},
                               {"value", 1.0 / (i + 1)},
                               {"timestamp", 1.7e9},
                               {"step", (c * kBatches + b) * kPerBatch + i}});
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
    Result<testing::HttpReply> history =
        viewer.Get("/api/v1/runs/" + std::to_string(run) + "/metrics/loss?max_points=100000");
    REQUIRE(history.ok());
    CHECK(history->Json()["total_points"] == kClients * kBatches * kPerBatch);
    Result<testing::HttpReply> finished =
        op.Post("/api/v1/runs/" + std::to_string(run) + "/status", {{"status", "finished"}});
    REQUIRE(finished.ok());
    CHECK(finished->status == 200);
    CheckError(op.Post("/api/v1/runs/" + std::to_string(run) + "/status", {{"status", "done"}}), 400,
               "INVALID_ARGUMENT", "unknown value 'done'");
  }

  // SIGTERM stops the server cleanly.
  s.master.Signal(SIGTERM);
  CHECK(s.master.Wait(std::chrono::seconds(30)) == 0);
}

}  // namespace fedra
