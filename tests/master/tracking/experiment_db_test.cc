// The experiment database on a real SQLite file: schema and reopening, runs and their
// lifecycle, batched metrics and thinned histories, model versions, and many writers at once.
#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "master/tracking/experiment_db.h"
#include "tests/support/temp_dir.h"

namespace fedra {
namespace {

using testing::TempDir;

std::unique_ptr<ExperimentDb> OpenDb(const TempDir& dir) {
  auto db = ExperimentDb::Open(dir / "fedra.db");
  REQUIRE_MESSAGE(db.ok(), db.status().ToString());
  return std::move(db).value();
}

NewRun Run(const std::string& experiment, RunStatus status = RunStatus::kRunning) {
  NewRun run;
  run.experiment = experiment;
  run.name = "lm on d";
  run.algorithm = "lm";
  run.dataset = "d";
  run.spec = {{"algorithm", "lm"}, {"data", {{"dataset", "d"}, {"label", "y"}}}, {"params", {{"lambda", 0.5}}}};
  run.params = {{"lambda", 0.5}, {"dataset", "d"}};
  run.submitted_by = "tester";
  run.status = status;
  run.job = true;
  return run;
}

}  // namespace

TEST_CASE("runs go from running to finished with their spec, params, result and latest metrics") {
  TempDir dir;
  auto db = OpenDb(dir);
  Result<int64_t> id = db->CreateRun(Run("housing"));
  REQUIRE(id.ok());
  REQUIRE(db->LogMetrics(*id, {{"loss", 1, 0.9, 1.0}, {"loss", 2, 0.5, 2.0}, {"accuracy", 2, 0.8, 2.0}}).ok());
  REQUIRE(db->SetRunStatus(*id, RunStatus::kFinished, {{"coefficients", {{"a", 1.5}}}}).ok());

  Result<nlohmann::json> run = db->GetRun(*id);
  REQUIRE(run.ok());
  CHECK((*run)["status"] == "finished");
  CHECK((*run)["experiment"] == "housing");
  CHECK((*run)["algorithm"] == "lm");
  CHECK((*run)["dataset"] == "d");
  CHECK((*run)["spec"]["params"]["lambda"] == 0.5);
  CHECK((*run)["params"]["lambda"] == "0.5");
  CHECK((*run)["result"]["coefficients"]["a"] == 1.5);
  CHECK((*run)["metrics"]["loss"] == 0.5);  // the latest step's value
  CHECK((*run)["end_time"].get<double>() >= (*run)["start_time"].get<double>());

  Result<nlohmann::json> experiments = db->ListExperiments();
  REQUIRE(experiments.ok());
  REQUIRE(experiments->size() == 1);
  CHECK((*experiments)[0]["runs"] == 1);
  CHECK(db->GetRun(*id + 1).status().code() == StatusCode::kNotFound);
  CHECK(db->LogMetrics(*id + 1, {{"loss", 1, 0.1, 1.0}}).code() == StatusCode::kNotFound);
}

TEST_CASE("a metric history is thinned evenly to the points asked for, keeping both ends") {
  TempDir dir;
  auto db = OpenDb(dir);
  const int64_t id = *db->CreateRun(Run("e"));
  std::vector<MetricPoint> points;
  for (int step = 0; step < 1000; ++step) points.push_back({"loss", step, 1000.0 - step, static_cast<double>(step)});
  REQUIRE(db->LogMetrics(id, points).ok());
  for (int64_t max_points : {2, 7, 100, 999, 1000, 5000}) {
    CAPTURE(max_points);
    Result<nlohmann::json> h = db->MetricHistory(id, "loss", max_points);
    REQUIRE(h.ok());
    const auto& m = (*h)["metrics"];
    CHECK((*h)["total_points"] == 1000);
    CHECK(static_cast<int64_t>(m.size()) <= max_points);
    CHECK(static_cast<int64_t>(m.size()) >= std::min<int64_t>(max_points, 1000) / 2);
    CHECK(m.front()["step"] == 0);
    CHECK(m.back()["step"] == 999);
    CHECK(m.back()["value"] == 1.0);
  }
  CHECK(db->MetricHistory(id, "loss", 1).status().code() == StatusCode::kInvalidArgument);
  CHECK((*db->MetricHistory(id, "nothing", 10))["metrics"].empty());
}

TEST_CASE("models are versioned blobs with their shapes") {
  TempDir dir;
  auto db = OpenDb(dir);
  const int64_t id = *db->CreateRun(Run("e"));
  CHECK(*db->SaveModel(id, "weights", {{"w", {3, 1}}}, {1, 2, 3}) == 1);
  CHECK(*db->SaveModel(id, "weights", {{"w", {3, 1}}}, {4, 5, 6, 7}) == 2);
  Result<ModelBlob> latest = db->GetModel(id, "weights", 0);
  REQUIRE(latest.ok());
  CHECK(latest->version == 2);
  CHECK(latest->bytes == std::vector<uint8_t>{4, 5, 6, 7});
  CHECK(db->GetModel(id, "weights", 1)->bytes.size() == 3);
  CHECK(db->GetModel(id, "weights", 3).status().code() == StatusCode::kNotFound);
  CHECK(db->ListModels(id)->size() == 2);
}

TEST_CASE("cancelling is recorded for active runs and refused for ended ones") {
  TempDir dir;
  auto db = OpenDb(dir);
  const int64_t active = *db->CreateRun(Run("e"));
  const int64_t ended = *db->CreateRun(Run("e"));
  REQUIRE(db->SetRunStatus(ended, RunStatus::kFailed, nullptr, "boom").ok());
  CHECK_FALSE(*db->CancelRequested(active));
  CHECK(db->RequestCancel(active).ok());
  CHECK(*db->CancelRequested(active));
  CHECK(db->RequestCancel(ended).code() == StatusCode::kFailedPrecondition);
  CHECK(db->RequestCancel(999).code() == StatusCode::kNotFound);
  NewRun tracked = Run("e");
  tracked.job = false;  // logged from outside: nothing here to cancel
  const int64_t outside = *db->CreateRun(tracked);
  CHECK(db->RequestCancel(outside).message().find("is not a job") != std::string::npos);
  CHECK(db->ListRuns(0, 10, 0, /*jobs_only=*/true)->size() == 2);
  CHECK(db->ListRuns(0, 10, 0)->size() == 3);
  CHECK((*db->GetRun(ended))["error"] == "boom");
}

TEST_CASE("reopening keeps everything and fails runs a stopped master left active") {
  TempDir dir;
  int64_t running = 0, finished = 0;
  {
    auto db = OpenDb(dir);
    running = *db->CreateRun(Run("e"));
    finished = *db->CreateRun(Run("e"));
    REQUIRE(db->SetRunStatus(finished, RunStatus::kFinished, nlohmann::json::object()).ok());
    REQUIRE(db->RecordSite("north", true, {{"sensors", {{"rows", 10}}}}, false).ok());
  }
  auto db = OpenDb(dir);
  CHECK((*db->GetRun(running))["status"] == "failed");
  CHECK((*db->GetRun(running))["error"] == "the master stopped while this run was active");
  CHECK((*db->GetRun(finished))["status"] == "finished");
  Result<nlohmann::json> sites = db->ListSites();
  REQUIRE(sites.ok());
  CHECK((*sites)[0]["datasets"]["sensors"]["rows"] == 10);
  // Going offline keeps what the site last said it holds.
  REQUIRE(db->RecordSite("north", false, nullptr, false).ok());
  CHECK((*db->ListSites())[0]["online"] == false);
  CHECK((*db->ListSites())[0]["datasets"]["sensors"]["rows"] == 10);
}

TEST_CASE("a second process opening the file leaves the first one's active runs alone") {
  TempDir dir;
  auto first = OpenDb(dir);
  const int64_t running = *first->CreateRun(Run("e"));
  auto second = OpenDb(dir);  // another open file description: another process, as far as locks go
  CHECK((*second->GetRun(running))["status"] == "running");
  CHECK(second->LogMetrics(running, {{"loss", 1, 0.5, 1.0}}).ok());
}

TEST_CASE("a database from a newer fedra is refused with a clear error") {
  TempDir dir;
  {
    Result<sqlite::Connection> c = sqlite::Connection::Open((dir / "fedra.db").string(), true, false);
    REQUIRE(c.ok());
    REQUIRE(c->Exec("PRAGMA user_version = 99").ok());
  }
  Status s = ExperimentDb::Open(dir / "fedra.db").status();
  CHECK(s.code() == StatusCode::kFailedPrecondition);
  CHECK(s.message().find("schema version 99 is newer") != std::string::npos);
}

TEST_CASE("many writers and readers at once: no error, no lost row") {
  TempDir dir;
  auto db = OpenDb(dir);
  constexpr int kWriters = 12, kBatches = 40, kPerBatch = 25;
  std::vector<int64_t> runs;
  for (int w = 0; w < kWriters; ++w) runs.push_back(*db->CreateRun(Run("load")));
  std::atomic<int> failures{0};
  std::atomic<bool> writing{true};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (int b = 0; b < kBatches; ++b) {
        std::vector<MetricPoint> batch;
        for (int i = 0; i < kPerBatch; ++i) batch.push_back({"loss", b * kPerBatch + i, 1.0 / (1 + i), 0});
        if (!db->LogMetrics(runs[static_cast<size_t>(w)], std::move(batch)).ok()) ++failures;
      }
    });
  }
  std::vector<std::thread> readers;
  for (int r = 0; r < 4; ++r) {
    readers.emplace_back([&] {
      while (writing) {
        if (!db->ListRuns(0, 100, 0).ok() || !db->MetricHistory(runs[0], "loss", 50).ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  writing = false;
  for (auto& t : readers) t.join();
  CHECK(failures == 0);
  for (int64_t run : runs) {
    Result<nlohmann::json> h = db->MetricHistory(run, "loss", 1'000'000);
    REQUIRE(h.ok());
    CHECK((*h)["total_points"] == kBatches * kPerBatch);
  }
  Result<nlohmann::json> listed = db->ListRuns(0, 5, 0);
  REQUIRE(listed.ok());
  CHECK(listed->size() == 5);
  CHECK((*listed)[0]["run_id"] == runs.back());  // newest first
  CHECK((*listed)[0]["metrics"]["loss"].get<double>() == doctest::Approx(1.0 / kPerBatch));
}

}  // namespace fedra
