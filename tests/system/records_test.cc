// `fedra-master run --db` as a real process: a finished job is recorded with its iterations and
// result; a master killed while a job writes metrics leaves a database that opens cleanly, with
// the run marked failed and every committed metric intact. `fedra-master serve` killed while it
// trains takes the run up again from its last checkpoint when it starts again.
#include <doctest/doctest.h>

#include <csignal>

#include "master/tracking/experiment_db.h"
#include "tests/support/child_process.h"
#include "tests/support/local_federation.h"
#include "tests/support/random_data.h"
#include "tests/support/serving_master.h"
#include "tests/support/temp_dir.h"

namespace fedra {
namespace {

using testing::ChildProcess;
using testing::LocalFederation;
using testing::TempDir;

ChildProcess RunMaster(const TempDir& dir, const LocalFederation& local, const std::string& job) {
  testing::WriteFile(dir / "job.json", job);
  return ChildProcess(
      {FEDRA_MASTER_BIN, "run", "--federation", local.WriteFederationJson(dir / "federation.json").string(), "--job",
       (dir / "job.json").string(), "--db", (dir / "fedra.db").string(), "--experiment", "records"},
      dir / "master.log");
}

// Rows in the metrics table, read without opening the database the way the master does (which
// would mark its active run failed).
int64_t MetricRows(const TempDir& dir) {
  Result<sqlite::Connection> c = sqlite::Connection::Open((dir / "fedra.db").string(), false, true);
  if (!c.ok()) return 0;
  Result<sqlite::Statement> s = c->Prepare("SELECT count(*) FROM metrics");
  if (!s.ok()) return 0;
  Result<bool> row = s->Step();
  return row.ok() && *row ? s->Int(0) : 0;
}

// The round of a run's saved checkpoint (0: none), read as MetricRows reads.
int64_t CheckpointRound(const std::filesystem::path& db, int64_t run) {
  Result<sqlite::Connection> c = sqlite::Connection::Open(db.string(), false, true);
  if (!c.ok()) return 0;
  Result<sqlite::Statement> s = c->Prepare("SELECT round FROM checkpoints WHERE run_id = ?1");
  if (!s.ok()) return 0;
  Result<bool> row = s->Bind(1, run).Step();
  return row.ok() && *row ? s->Int(0) : 0;
}

}  // namespace

TEST_CASE("a serve killed with SIGKILL mid-training goes on from the last checkpoint when it starts again") {
  testing::ServingMaster s;
  testing::HttpsClient op = s.Client(s.operator_token);
  // One epoch of 25,000 and 35,000 rows in batches of 8 a round: long enough to be caught.
  Result<testing::HttpReply> submitted = op.Post("/api/v1/jobs", nlohmann::json::parse(R"({"algorithm": "nn",
          "data": {"dataset": "noise", "label": "s", "features": ["p", "q", "r"]},
          "model": {"hidden": [8], "activation": "tanh", "output": "linear"},
          "optimizer": {"name": "adam", "lr": 0.001},
          "ps": {"strategy": "bsp", "epochs": 40, "batch_size": 8}})"));
  REQUIRE(submitted.ok());
  REQUIRE_MESSAGE(submitted->status == 201, submitted->body);
  const int64_t run = submitted->Json()["run_id"];
  REQUIRE_MESSAGE(
      testing::WaitFor([&] { return CheckpointRound(s.dir / "fedra.db", run) >= 3; }, std::chrono::seconds(60)),
      testing::ReadFile(s.dir / "master.log"));
  s.master.Signal(SIGKILL);
  REQUIRE(s.master.Wait(std::chrono::seconds(10)).has_value());
  const int64_t saved = CheckpointRound(s.dir / "fedra.db", run);
  REQUIRE(saved < 40);  // killed mid-training
  MESSAGE("serve killed with the checkpoint of round " << saved << " of 40 saved");

  s.StartMaster();
  testing::HttpsClient again = s.Client(s.operator_token);
  const nlohmann::json done = s.WaitForEnd(again, run);
  REQUIRE_MESSAGE(done["info"]["status"] == "finished", done.dump());
  const nlohmann::json& result = done["result"];
  CHECK(result["iterations"] == 40);
  CHECK(result["rounds"].size() == 40);
  for (size_t i = 0; i < result["rounds"].size(); ++i) CHECK(result["rounds"][i]["round"] == i + 1);
  CHECK(result["resumed"]["from_round"] == saved);
  const std::string log = testing::ReadFile(s.dir / "master.log");
  CHECK_MESSAGE(log.find("run " + std::to_string(run) + ": resumed after a restart of the master, from round " +
                         std::to_string(saved)) != std::string::npos,
                log);
  // The rounds before the restart are the checkpoint's records; the training went on from there.
  CHECK(result["rounds"].back()["loss"].get<double>() < result["rounds"][0]["loss"].get<double>());
}

TEST_CASE("a recorded run keeps its iterations, result and final metrics") {
  TempDir dir;
  LocalFederation local(dir.path(), {"a", "b"});
  local.AddSplitCsvDataset("u", testing::UniformMatrix(400, 3, 1), {150, 250}, {"x", "y", "z"}, "private-aggregate");
  local.StartAll();
  ChildProcess master = RunMaster(dir, local, R"({"algorithm": "kmeans", "data": {"dataset": "u"},
                                                  "params": {"k": 4, "tolerance": 0}})");
  REQUIRE(master.Wait(std::chrono::seconds(60)) == 0);

  auto db = ExperimentDb::Open(dir / "fedra.db");
  REQUIRE(db.ok());
  Result<nlohmann::json> runs = (*db)->ListRuns(0, 10, 0);
  REQUIRE(runs.ok());
  REQUIRE(runs->size() == 1);
  const nlohmann::json& run = (*runs)[0];
  CHECK(run["status"] == "finished");
  CHECK(run["experiment"] == "records");
  CHECK(run["params"]["k"] == "4");
  Result<nlohmann::json> full = (*db)->GetRun(run["run_id"]);
  REQUIRE(full.ok());
  const int iterations = (*full)["result"]["iterations"];
  CHECK(iterations >= 2);
  Result<nlohmann::json> inertia = (*db)->MetricHistory(run["run_id"], "inertia", 1000);
  REQUIRE(inertia.ok());
  // One point per iteration, plus the final metric at the last step.
  CHECK((*inertia)["total_points"] == iterations + 1);
  CHECK(run["metrics"]["inertia"].get<double>() ==
        doctest::Approx((*full)["result"]["metrics"]["inertia"].get<double>()).epsilon(1e-12));
  db->reset();

  // Later jobs and exports name the model by its run: evaluated on the same rows, the centres
  // score the inertia they were fitted with.
  const int64_t id = run["run_id"];
  ChildProcess evaluate = RunMaster(
      dir, local,
      R"({"algorithm": "evaluate", "model": {"run": )" + std::to_string(id) + R"(}, "data": {"dataset": "u"}})");
  REQUIRE(evaluate.Wait(std::chrono::seconds(60)) == 0);
  const std::string printed = testing::ReadFile(dir / "master.log");
  const size_t start = printed.rfind("\n{");
  REQUIRE(start != std::string::npos);
  const nlohmann::json scored = nlohmann::json::parse(printed.substr(start + 1));
  CHECK(scored["run_id"] == id + 1);
  CHECK(scored["metrics"]["inertia"].get<double>() ==
        doctest::Approx(run["metrics"]["inertia"].get<double>()).epsilon(1e-9));
  const std::filesystem::path onnx = dir / "kmeans.onnx";
  ChildProcess exported({FEDRA_MASTER_BIN, "export", "--db", (dir / "fedra.db").string(), "--run", std::to_string(id),
                         "--output", onnx.string()},
                        dir / "export.log");
  REQUIRE(exported.Wait(std::chrono::seconds(30)) == 0);
  CHECK(std::filesystem::file_size(onnx) > 100);
  ChildProcess unknown({FEDRA_MASTER_BIN, "export", "--db", (dir / "fedra.db").string(), "--run", "999", "--output",
                        (dir / "none.onnx").string()},
                       dir / "unknown.log");
  CHECK(unknown.Wait(std::chrono::seconds(30)) == 1);
  CHECK(testing::ReadFile(dir / "unknown.log").find("999") != std::string::npos);
  CHECK(!std::filesystem::exists(dir / "none.onnx"));
}

TEST_CASE("a master killed while it writes metrics leaves a database that opens, with the run failed") {
  TempDir dir;
  LocalFederation local(dir.path(), {"a", "b"});
  // Structureless data, many centres and restarts: k-means takes many iterations.
  local.AddSplitCsvDataset("u", testing::UniformMatrix(60000, 4, 2), {25000, 35000}, {"p", "q", "r", "s"}, "public");
  local.StartAll();
  ChildProcess master = RunMaster(dir, local, R"({"algorithm": "kmeans", "data": {"dataset": "u"},
                                                  "params": {"k": 30, "restarts": 20, "tolerance": 0,
                                                             "max_iterations": 100000}})");
  REQUIRE_MESSAGE(testing::WaitFor([&] { return MetricRows(dir) >= 3; }, std::chrono::seconds(60)),
                  testing::ReadFile(dir / "master.log"));
  master.Signal(SIGKILL);
  REQUIRE(master.Wait(std::chrono::seconds(10)).has_value());
  const int64_t committed = MetricRows(dir);

  {
    Result<sqlite::Connection> c = sqlite::Connection::Open((dir / "fedra.db").string(), false, false);
    REQUIRE(c.ok());
    Result<sqlite::Statement> check = c->Prepare("PRAGMA integrity_check");
    REQUIRE(check.ok());
    REQUIRE(*check->Step());
    CHECK(check->Text(0) == "ok");
  }
  auto db = ExperimentDb::Open(dir / "fedra.db");
  REQUIRE_MESSAGE(db.ok(), db.status().ToString());
  Result<nlohmann::json> runs = (*db)->ListRuns(0, 10, 0);
  REQUIRE(runs.ok());
  REQUIRE(runs->size() == 1);
  CHECK((*runs)[0]["status"] == "failed");
  CHECK((*runs)[0]["error"] == "the master stopped while this run was active");
  Result<nlohmann::json> history = (*db)->MetricHistory((*runs)[0]["run_id"], "inertia", 100000);
  REQUIRE(history.ok());
  CHECK((*history)["total_points"] == committed);
  // Steps were written in order, one per iteration, none half-written.
  const auto& points = (*history)["metrics"];
  for (size_t i = 0; i < points.size(); ++i) CHECK(points[i]["step"] == static_cast<int64_t>(i + 1));
}

}  // namespace fedra
