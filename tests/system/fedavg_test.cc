// Federated training through the parameter server with real site processes: on real data
// (Fashion-MNIST's 60,000 training images split unevenly and non-IID over three sites, scored
// on the 10,000 test images here; skipped when Debian's dataset-fashion-mnist is missing), every
// strategy with a site killed mid-job, per-batch updates against plain local training, and the
// nn job's errors.
#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <random>

#include "master/algorithms/federated_training.h"
#include "master/jobs/job.h"
#include "site-agent/trainer.h"
#include "tests/support/fashion.h"
#include "tests/support/federated_data.h"
#include "tests/support/local_federation.h"
#include "tests/support/temp_dir.h"

namespace fedra {
namespace {

// Two labelled 2-D blobs: row i has class i % 2, centred at (0, 0) or (shift, -1).
Matrix TwoBlobs(int rows, uint32_t seed, double spread, double shift) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> n(0, spread);
  Matrix pooled(rows, 3);
  for (int i = 0; i < rows; ++i) {
    const int c = i % 2;
    pooled(i, 0) = n(rng) + shift * c;
    pooled(i, 1) = n(rng) - c;
    pooled(i, 2) = c;
  }
  return pooled;
}

// The accuracy of an nn job's returned model on `data` (features, then the label), computed here:
// sites withhold counts of correct predictions on private-aggregate rows.
double AccuracyOn(const nlohmann::json& result, const Matrix& data) {
  Result<ModelSpec> model = ParseModelSpec(result["model"], "model");
  REQUIRE(model.ok());
  const std::vector<float> values = result["parameters"];
  const Eigen::VectorXf params =
      Eigen::Map<const Eigen::VectorXf>(values.data(), static_cast<Eigen::Index>(values.size()));
  const Eigen::Index d = data.cols() - 1;
  const BatchStats s =
      Mlp(*model).Run(params, data.leftCols(d).cast<float>(), *MakeTargets(*model, Matrix(data.col(d))), nullptr);
  return static_cast<double>(s.correct) / static_cast<double>(s.rows);
}

}  // namespace
TEST_CASE(
    "FedAvg trains a 2-layer MLP on non-IID Fashion-MNIST to 85% test accuracy; top-k 1% and a site restart follow") {
  if (!testing::FashionAvailable()) {
    MESSAGE("skipped: " << testing::kFashionDir.string()
                        << " is missing (scripts/install-deps installs dataset-fashion-mnist)");
    return;
  }
  testing::TempDir dir;
  testing::LocalFederation local(dir.path(), {"a", "b", "c"});
  Result<std::vector<int64_t>> counts = testing::AddNonIidFashion(local);
  REQUIRE_MESSAGE(counts.ok(), counts.status().ToString());
  MESSAGE("training images per site: " << (*counts)[0] << ", " << (*counts)[1] << ", " << (*counts)[2]);
  for (const std::string& site : local.sites()) {  // a budget for the DP-FedAvg run below
    local.EditConfig(site, [](nlohmann::json& c) {
      c["datasets"]["fashion"]["dp_training"] = {{"epsilon", 1000}, {"delta", 1e-5}};
    });
  }
  local.StartAll();
  auto fed = local.Connect(std::chrono::seconds(300));
  auto data = testing::ReadFeaturesAndLabel(*fed, "fashion");
  REQUIRE_MESSAGE(data.ok(), data.status().ToString());
  Result<std::pair<Matrix, Matrix>> test = testing::LoadFashionTest();
  REQUIRE(test.ok());

  auto train = [&](double topk, IterationHook hook = nullptr, SecureTraining secure = {}) {
    TrainingOptions options = testing::FashionMlpOptions(20);
    options.compression.topk = topk;
    options.quorum = 2;
    options.on_iteration = std::move(hook);
    options.secure = secure;
    Result<testing::FashionRun> run = testing::TrainAndTestFashion(*fed, data->first, data->second, options, *test);
    REQUIRE_MESSAGE(run.ok(), run.status().ToString());
    REQUIRE(run->trained.rounds.size() == 20);
    const std::string what = secure.dp.enabled() ? "DP-FedAvg"
                             : secure.enabled    ? "secure aggregation"
                                                 : "top-k " + std::to_string(topk);
    MESSAGE(what << ": test accuracy " << run->test_accuracy << " after 20 rounds, " << run->seconds << " s, "
                 << run->bytes_up_per_round
                 << " bytes up per round; last round: " << run->trained.rounds.back().dump());
    // The training loss, measured at the sites, fell over the rounds (DP withholds it).
    const auto& rounds = run->trained.rounds;
    if (!secure.dp.enabled()) CHECK(rounds.back()["loss"].get<double>() < 0.6 * rounds.front()["loss"].get<double>());
    return *run;
  };
  const testing::FashionRun dense = train(1);
  CHECK(dense.test_accuracy >= 0.85);

  // Secure aggregation: the master sees only each round's sum of the three updates, and the
  // model is FedAvg's.
  SecureTraining secure;
  secure.enabled = true;
  const testing::FashionRun summed = train(1, nullptr, secure);
  MESSAGE("secure aggregation is " << 100 * (dense.test_accuracy - summed.test_accuracy)
                                   << " points behind the plain run");
  CHECK(std::abs(summed.test_accuracy - dense.test_accuracy) <= 0.005);
  // DP-FedAvg at the site level: with three sites the noise on a 100,000-parameter update
  // outweighs the update; the figure is reported, not held to a bound.
  secure.dp = {1, 1};
  const testing::FashionRun noised = train(1, nullptr, secure);
  MESSAGE("DP-FedAvg (clip 1, noise multiplier 1, 3 sites, 20 rounds): epsilon "
          << noised.trained.rounds.back()["dp_epsilon"].get<double>() << " at delta 1e-5, test accuracy "
          << noised.test_accuracy);
  CHECK(noised.trained.rounds.back()["dp_epsilon"].get<double>() > 0);
  const testing::FashionRun sparse = train(0.01);
  // Top-k 1% with error feedback lags by what the residuals still hold back: 0.72 points with these
  // settings on one machine, 1.05 on another with the same code and data (the runs differ from
  // the first rounds on, in the last digits); 1.6 with one local epoch a round at lr 0.01, where
  // each round's update is smaller against the residuals.
  MESSAGE("top-k 1% is " << 100 * (dense.test_accuracy - sparse.test_accuracy) << " points behind the dense run");
  CHECK(sparse.test_accuracy >= dense.test_accuracy - 0.015);
  CHECK(sparse.bytes_up_per_round < 0.03 * dense.bytes_up_per_round);  // 1% of the values, each with its index

  // Site c, which holds most images of its classes, is killed after round 4 and started again on
  // its port after round 6: it sits out rounds 5 and 6, and in round 7 the master sees its new
  // incarnation, has it read its images again, and it trains on. Without it from round 4 on,
  // test accuracy ended at 73%.
  const testing::FashionRun restarted = train(1, [&](int round, const IterationMetrics&) {
    if (round == 4) {
      local.process("c").Signal(SIGKILL);
      REQUIRE(local.process("c").Wait(std::chrono::seconds(10)).has_value());
    }
    if (round == 6) local.Start("c");
    return Status::Ok();
  });
  const auto& rounds = restarted.trained.rounds;
  for (size_t r : {4, 5}) CHECK_MESSAGE(rounds[r]["dropped"].contains("c"), rounds[r].dump());
  CHECK(rounds[6]["rejoined"] == nlohmann::json{"c"});
  for (size_t r = 6; r < 20; ++r) CHECK(rounds[r]["sites"].contains("c"));
  CHECK(fed->restarts("c") == 1);
  MESSAGE("with c killed and restarted: test accuracy " << restarted.test_accuracy << ", "
                                                        << 100 * (dense.test_accuracy - restarted.test_accuracy)
                                                        << " points behind the dense run");
  CHECK(restarted.test_accuracy >= dense.test_accuracy - 0.01);
}

TEST_CASE("nn jobs train through the job runner and name bad hyper-parameters") {
  // Three separated 2-D blobs, one class each, over two sites.
  std::mt19937 rng(3);
  std::normal_distribution<double> n(0, 0.4);
  Matrix pooled(240, 3);
  for (int i = 0; i < 240; ++i) {
    const int c = i % 3;
    pooled(i, 0) = n(rng) + 2.5 * (c == 1);
    pooled(i, 1) = n(rng) + 2.5 * (c == 2);
    pooled(i, 2) = c;
  }
  testing::TempDir dir;
  testing::LocalFederation local(dir.path(), {"a", "b"});
  local.AddSplitCsvDataset("blobs", pooled, {90, 150}, {"u", "v", "cls"}, "private-aggregate");
  local.AllowTraining("blobs");
  local.StartAll();
  auto fed = local.Connect();
  auto job = [](const std::string& text) { return ParseJobSpec(nlohmann::json::parse(text), "job.json"); };

  Result<JobSpec> spec = job(R"({"algorithm": "nn", "data": {"dataset": "blobs", "label": "cls"},
                                 "model": {"hidden": [8], "activation": "tanh"},
                                 "optimizer": {"name": "adam", "lr": 0.05},
                                 "ps": {"strategy": "bsp", "frequency": "epoch", "epochs": 8, "batch_size": 16}})");
  REQUIRE_MESSAGE(spec.ok(), spec.status().ToString());
  Result<nlohmann::json> result = RunJob(*fed, *spec);
  REQUIRE_MESSAGE(result.ok(), result.status().ToString());
  CHECK((*result)["rounds"].size() == 8);
  CHECK((*result)["model"]["outputs"] == 3);
  CHECK((*result)["parameters"].size() == 2 * 8 + 8 + 8 * 3 + 3);
  CHECK_FALSE((*result)["metrics"].contains("accuracy"));  // withheld by private-aggregate sites
  CHECK(AccuracyOn(*result, pooled) > 0.9);
  CHECK((*result)["rounds"][0]["sites"].contains("b"));

  auto error = [&](const std::string& text) {
    Result<JobSpec> j = job(text);
    return j.ok() ? RunJob(*fed, *j).status().message() : j.status().message();
  };
  const std::string data = R"("data": {"dataset": "blobs", "label": "cls"})";
  CHECK(error(R"({"algorithm": "nn", )" + data + R"(, "model": {"kind": "cnn"}})").find("model.kind: unknown field") !=
        std::string::npos);
  CHECK(error(R"({"algorithm": "nn", )" + data + R"(, "optimizer": {"name": "lion"}})")
            .find("unknown optimizer 'lion'") != std::string::npos);
  CHECK(error(R"({"algorithm": "nn", )" + data + R"(, "optimizer": {"lr": -1}})").find("optimizer.lr") !=
        std::string::npos);
  CHECK(error(R"({"algorithm": "nn", )" + data + R"(, "ps": {"batch_size": 100}})")
            .find("batch size 100 does not fit this site's 90 rows") != std::string::npos);
  CHECK(error(R"({"algorithm": "nn", )" + data + R"(, "model": {"inputs": 5}})")
            .find("model.inputs: 5, but the data has 2") != std::string::npos);
  CHECK(error(R"({"algorithm": "nn", )" + data + R"(, "ps": {"strategy": "gossip"}})")
            .find("ps.strategy: unknown strategy 'gossip' (bsp, asp, ssp, backup)") != std::string::npos);
  CHECK(error(R"({"algorithm": "nn", )" + data + R"(, "ps": {"strategy": "backup", "backup": 2}})")
            .find("backup: 2 backup sites of 2") != std::string::npos);
  CHECK(error(R"({"algorithm": "nn", )" + data + R"(, "ps": {"strategy": "asp", "aggregator": "median"}})")
            .find("ps.aggregator: median combines the updates of a round") != std::string::npos);
  CHECK(error(R"({"algorithm": "nn", )" + data + R"(, "ps": {"aggregator": "krum"}})")
            .find("unknown aggregator 'krum'") != std::string::npos);
  CHECK(error(R"({"algorithm": "nn", )" + data + R"(, "ps": {"compression": {"topk": 2}}})")
            .find("ps.compression.topk") != std::string::npos);
  CHECK(error(R"({"algorithm": "nn", )" + data + R"(, "ps": {"balance": {"mode": "oversample"}}})")
            .find("ps.balance.mode: unknown mode 'oversample'") != std::string::npos);
  CHECK(error(R"({"algorithm": "nn", )" + data + R"(, "ps": {"server_optimizer": {"name": "fedadam", "beta1": 1.5}}})")
            .find("ps.server_optimizer.beta1") != std::string::npos);
  CHECK(error(R"({"algorithm": "lm", )" + data + R"(, "model": {}})").find("model: lm takes no \"model\"") !=
        std::string::npos);
  CHECK(error(R"({"algorithm": "nn", )" + data +
              R"(, "ps": {"frequency": "batch", "rounds": 3, "server_optimizer": {}}})")
            .find("with frequency \"batch\" the server steps with the job's optimizer") != std::string::npos);
  CHECK(error(R"({"algorithm": "nn", )" + data + R"(, "params": {"lr": 1}})")
            .find("params: nn takes no \"params\" (its settings go in \"model\", \"optimizer\", \"ps\")") !=
        std::string::npos);
  CHECK(error(R"({"algorithm": "nn", )" + data + R"(, "ps": {"frequency": "batch"}})").find("ps.rounds: required") !=
        std::string::npos);
  CHECK(error(R"({"algorithm": "nn", )" + data + R"(, "ps": {"strategy": "backup", "compression": {"topk": 0.1}}})")
            .find("the backup strategy drops late updates") != std::string::npos);
  CHECK(
      error(R"({"algorithm": "nn", )" + data + R"(, "ps": {"frequency": "batch", "rounds": 100000000, "nfetch": 100}})")
          .find("rounds x nfetch may be at most 2^30") != std::string::npos);
  CHECK(error(R"({"algorithm": "nn", )" + data + R"(, "model": {"hidden": [60000, 60000]}})")
            .find("parameters, more than") != std::string::npos);
  // A batch smaller than the site's minimum aggregate could give a row back through the update.
  const std::string small = error(R"({"algorithm": "nn", )" + data + R"(, "ps": {"batch_size": 4, "epochs": 1}})");
  CHECK_MESSAGE(small.find("sum fewer rows than the site's minimum of 10") != std::string::npos, small);
}

TEST_CASE("one site, one batch per round: federated training equals plain local training") {
  // The site sends each batch's gradient; the server steps with the job's optimizer (Nesterov
  // momentum and weight decay here, whose state lives at the server across rounds).
  std::mt19937 rng(8);
  std::normal_distribution<double> n(0, 1);
  Matrix pooled(70, 4);
  for (int i = 0; i < 70; ++i) {
    for (int j = 0; j < 3; ++j) pooled(i, j) = n(rng);
    pooled(i, 3) = (pooled(i, 0) + pooled(i, 1) > 0) + (pooled(i, 2) > 1);
  }
  testing::TempDir dir;
  testing::LocalFederation local(dir.path(), {"a"});
  local.AddCsvDataset("a", "d", pooled, {"p", "q", "r", "cls"}, "public");
  local.StartAll();
  auto fed = local.Connect();
  auto data = testing::ReadFeaturesAndLabel(*fed, "d");
  REQUIRE_MESSAGE(data.ok(), data.status().ToString());
  const auto& [x, y] = *data;

  TrainingOptions options;
  options.model.inputs = 3;
  options.model.hidden = {6};
  options.model.outputs = 3;
  options.model.activation = Activation::kTanh;
  options.optimizer.lr = 0.1f;
  options.optimizer.momentum = 0.9f;
  options.optimizer.nesterov = true;
  options.optimizer.weight_decay = 1e-3f;
  options.batches_per_round = 1;
  options.rounds = 25;  // more than the 70 / 8 = 8 batches of an epoch: crosses two reshuffles
  options.batch_size = 8;
  options.seed = 4;
  Result<ParameterServerResult> federated = TrainFederated(*fed, x, y, options);
  REQUIRE_MESSAGE(federated.ok(), federated.status().ToString());

  LocalTrainingOptions plain;
  plain.batches = 25;
  plain.batch_size = 8;
  plain.seed = 4;
  Result<LocalTrainingResult> reference =
      TrainLocal(Mlp(options.model), options.optimizer, plain, Matrix(pooled.leftCols(3)), Matrix(pooled.col(3)),
                 InitialParameters(options.model, 4));
  REQUIRE(reference.ok());
  const float difference = (federated->parameters - reference->params).cwiseAbs().maxCoeff();
  CHECK_MESSAGE(difference < 1e-5f, "largest parameter difference ", difference);
  CHECK(federated->parameters != InitialParameters(options.model, 4));
}

TEST_CASE("a site killed mid-training is dropped; the rounds go on until the quorum is lost") {
  const Matrix pooled = TwoBlobs(300, 9, 0.4, 2);
  for (int quorum : {2, 3}) {
    CAPTURE(quorum);
    testing::TempDir dir;
    testing::LocalFederation local(dir.path(), {"a", "b", "c"});
    local.AddSplitCsvDataset("d", pooled, {80, 100, 120}, {"u", "v", "cls"}, "private-aggregate");
    local.AllowTraining("d");
    local.StartAll();
    auto fed = local.Connect();
    auto data = testing::ReadFeaturesAndLabel(*fed, "d");
    REQUIRE_MESSAGE(data.ok(), data.status().ToString());
    const auto& [x, y] = *data;
    TrainingOptions options;
    options.model.inputs = 2;
    options.model.hidden = {4};
    options.model.outputs = 2;
    options.optimizer.lr = 0.1f;
    options.rounds = 6;
    options.batch_size = 16;
    options.quorum = quorum;
    // After round 2, site c's process is killed outright.
    options.on_iteration = [&](int round, const IterationMetrics&) -> Status {
      if (round == 2) {
        local.process("c").Signal(SIGKILL);
        REQUIRE(local.process("c").Wait(std::chrono::seconds(10)).has_value());
      }
      return Status::Ok();
    };
    Result<ParameterServerResult> trained = TrainFederated(*fed, x, y, options);
    if (quorum == 3) {
      CHECK(trained.status().code() == StatusCode::kUnavailable);
      CHECK_MESSAGE(
          trained.status().message().find("round 3: 2 of 3 sites left, below the quorum of 3") != std::string::npos,
          trained.status().message());
      CHECK(trained.status().message().find("site 'c'") != std::string::npos);
      continue;
    }
    REQUIRE_MESSAGE(trained.ok(), trained.status().ToString());
    REQUIRE(trained->rounds.size() == 6);
    CHECK_FALSE(trained->rounds[1].contains("dropped"));
    for (size_t r = 2; r < 6; ++r) {
      CHECK(trained->rounds[r]["dropped"].contains("c"));
      CHECK(trained->rounds[r]["sites"].size() == 2);
    }
  }
}

TEST_CASE("every strategy trains through real sites, and a site killed mid-job stalls none of them") {
  const Matrix pooled = TwoBlobs(360, 12, 0.5, 2);
  struct Case {
    const char* ps;
    bool kill;
  };
  for (const Case& c : {
           Case{R"({"strategy": "asp", "epochs": 6, "compression": {"topk": 0.3, "bits": 8}})", true},
           Case{R"({"strategy": "ssp", "staleness": 1, "epochs": 6})", true},
           Case{R"({"strategy": "backup", "backup": 1, "epochs": 6, "aggregator": "median"})", true},
           Case{R"({"strategy": "bsp", "epochs": 6, "proximal_mu": 0.1, "balance": {"mode": "replicate"},
                   "server_optimizer": {"name": "fedadam", "lr": 0.05}})",
                false},
           Case{R"({"strategy": "ssp", "staleness": 0, "frequency": "batch", "nfetch": 3, "rounds": 12})", false},
       }) {
    CAPTURE(c.ps);
    testing::TempDir dir;
    testing::LocalFederation local(dir.path(), {"a", "b", "c"});
    local.AddSplitCsvDataset("d", pooled, {80, 120, 160}, {"u", "v", "cls"}, "private-aggregate");
    local.AllowTraining("d");
    local.StartAll();
    auto fed = local.Connect();
    Result<JobSpec> spec = ParseJobSpec(nlohmann::json::parse(std::string(R"({"algorithm": "nn",
        "data": {"dataset": "d", "label": "cls"}, "model": {"hidden": [4], "activation": "tanh"},
        "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.5}, "ps": )") +
                                                              c.ps + "}"),
                                        "job.json");
    REQUIRE_MESSAGE(spec.ok(), spec.status().ToString());
    // After round 2, site c's process is killed outright.
    IterationHook kill = [&](int round, const IterationMetrics&) -> Status {
      if (c.kill && round == 2 && local.process("c").running()) {
        local.process("c").Signal(SIGKILL);
        REQUIRE(local.process("c").Wait(std::chrono::seconds(10)).has_value());
      }
      return Status::Ok();
    };
    Result<nlohmann::json> result = RunJob(*fed, *spec, kill);
    REQUIRE_MESSAGE(result.ok(), result.status().ToString());
    const nlohmann::json& r = *result;
    CHECK(AccuracyOn(r, pooled) > 0.85);
    CHECK(r["metrics"]["bytes_up_total"].get<double>() > 0);
    if (c.kill) {
      // Under asp a site runs ahead freely: on a loaded machine c can train all six of its rounds
      // before round 2 closes, and then the kill takes nothing from the job.
      double c_rows = 0;
      for (const auto& round : r["rounds"]) {
        if (round["sites"].contains("c")) c_rows += round["sites"]["c"]["rows"].get<double>();
      }
      const bool c_finished = c_rows >= 6 * 160;
      CHECK_MESSAGE(r.contains("dropped") != c_finished, r.dump());
      if (!c_finished) {
        CHECK(r["dropped"].contains("c"));
        CHECK_FALSE(r["dropped"].contains("a"));
      }
    } else {
      CHECK_FALSE(r.contains("dropped"));
    }
    if (std::string(c.ps).find("replicate") != std::string::npos) {
      // Every site trained on as many rows as the largest holds.
      for (const auto& [site, m] : r["rounds"][0]["sites"].items()) CHECK(m["rows"] == 160);
    }
  }
}

namespace {

// Two sites with 150 and 250 rows of two blobs (public data), and an nn job of `epochs` rounds
// that holds a quarter of the rows out and scores every round on them; `ps` adds to its "ps".
struct HeldOutJob {
  explicit HeldOutJob(int epochs, const std::string& ps = "") {
    local.AddSplitCsvDataset("d", pooled, {150, 250}, {"u", "v", "cls"}, "public");
    local.StartAll();
    fed = local.Connect();
    Result<JobSpec> parsed = ParseJobSpec(nlohmann::json::parse(R"({"algorithm": "nn",
        "data": {"dataset": "d", "label": "cls", "holdout": {"fraction": 0.25, "seed": 3}},
        "model": {"hidden": [6], "activation": "tanh"}, "optimizer": {"name": "adam", "lr": 0.05},
        "ps": {"epochs": )" + std::to_string(epochs) + R"(, "batch_size": 16)" +
                                                                ps + "}}"),
                                          "job.json");
    REQUIRE_MESSAGE(parsed.ok(), parsed.status().ToString());
    spec = *parsed;
  }

  const Matrix pooled = TwoBlobs(400, 21, 0.6, 1.5);
  testing::TempDir dir;
  testing::LocalFederation local{dir.path(), {"a", "b"}};
  std::unique_ptr<Federation> fed;
  JobSpec spec;
};

}  // namespace

TEST_CASE("nn with a held-out split scores every round on rows it never trains on") {
  HeldOutJob job(5);
  auto& fed = job.fed;
  Result<nlohmann::json> result = RunJob(*fed, job.spec);
  REQUIRE_MESSAGE(result.ok(), result.status().ToString());
  for (const auto& round : (*result)["rounds"]) CHECK(round.contains("val_accuracy"));

  // The same split, read back (the data is public), scored here with the returned parameters.
  Result<FederatedMatrix> data = FederatedMatrix::Read(*fed, "d");
  REQUIRE(data.ok());
  Result<FederatedMatrix::Split> split = data->SplitRows(*fed, 0.25, 3);
  REQUIRE(split.ok());
  Result<Matrix> held_out = testing::FetchValues(*fed, split->held_out);
  REQUIRE(held_out.ok());
  CHECK((*result)["held_out"]["rows"].get<double>() == held_out->rows());
  CHECK((*result)["rows"] == 400 - held_out->rows());
  Result<ModelSpec> model = ParseModelSpec((*result)["model"], "model");
  REQUIRE(model.ok());
  const std::vector<float> values = (*result)["parameters"];
  const Eigen::VectorXf params =
      Eigen::Map<const Eigen::VectorXf>(values.data(), static_cast<Eigen::Index>(values.size()));
  const BatchStats s = Mlp(*model).Run(params, held_out->leftCols(2).cast<float>(),
                                       *MakeTargets(*model, Matrix(held_out->col(2))), nullptr);
  CHECK((*result)["held_out"]["metrics"]["accuracy"].get<double>() ==
        doctest::Approx(static_cast<double>(s.correct) / static_cast<double>(s.rows)).epsilon(1e-12));
  CHECK((*result)["held_out"]["metrics"]["loss"].get<double>() ==
        doctest::Approx(s.loss_sum / static_cast<double>(s.rows)).epsilon(1e-4));
}

TEST_CASE("a site that restarts after a round's validation trains on: the parameters it was sent are made again") {
  // The validation leaves each round's parameters at the sites for the next round to train from;
  // site b loses them when it restarts in between, and the master must put them again.
  HeldOutJob job(4);
  testing::LocalFederation& local = job.local;
  IterationHook restart = [&](int round, const IterationMetrics&) -> Status {
    if (round == 2) {
      local.process("b").Signal(SIGKILL);
      REQUIRE(local.process("b").Wait(std::chrono::seconds(10)).has_value());
      local.Start("b");
    }
    return Status::Ok();
  };
  Result<nlohmann::json> result = RunJob(*job.fed, job.spec, restart);
  REQUIRE_MESSAGE(result.ok(), result.status().ToString());
  const nlohmann::json& rounds = (*result)["rounds"];
  REQUIRE(rounds.size() == 4);
  for (const auto& round : rounds) {
    CHECK(round.contains("val_accuracy"));
    CHECK_MESSAGE(round["sites"].contains("b"), round.dump());
  }
  CHECK(job.fed->restarts("b") == 1);
  const Status left = testing::NothingLeft(*job.fed);  // no staged parameters left behind
  CHECK_MESSAGE(left.ok(), left.ToString());
}

TEST_CASE("held-out rows are scored under asp, ssp and backup, and their parameters leave no trace") {
  // Under these strategies a site's next work may carry newer parameters than the validation
  // left with it, or (backup) run while a validation runs; the staged ones must then go.
  for (const char* ps :
       {R"(, "strategy": "asp")", R"(, "strategy": "ssp", "staleness": 1)", R"(, "strategy": "backup", "backup": 1)"}) {
    CAPTURE(ps);
    HeldOutJob job(4, ps);
    Result<nlohmann::json> result = RunJob(*job.fed, job.spec);
    REQUIRE_MESSAGE(result.ok(), result.status().ToString());
    const nlohmann::json& rounds = (*result)["rounds"];
    REQUIRE(!rounds.empty());
    for (const auto& round : rounds) CHECK_MESSAGE(round.contains("val_accuracy"), round.dump());
    CHECK((*result)["held_out"]["metrics"]["accuracy"].get<double>() > 0.75);  // 0.90 to 0.95 in nine runs
    const Status left = testing::NothingLeft(*job.fed);
    CHECK_MESSAGE(left.ok(), left.ToString());
  }
}

}  // namespace fedra
