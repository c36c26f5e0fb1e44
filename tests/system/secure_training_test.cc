// Training through secure sums over real site processes: the model is FedAvg's to the fixed
// point's precision while the master sees only each round's sum; what a secure sum cannot
// combine with is refused; DP-FedAvg reports the epsilon of an RDP accountant every round, and
// each site charges its own ledger and refuses the round that would pass its budget.
#include <doctest/doctest.h>

#include <random>

#include "federated/rdp_accountant.h"
#include "master/algorithms/federated_training.h"
#include "master/jobs/job.h"
#include "site-agent/trainer.h"
#include "tests/support/federated_data.h"
#include "tests/support/local_federation.h"
#include "tests/support/temp_dir.h"

namespace fedra {
namespace {

// Two labelled 2-D blobs over three sites, 120/80/100 rows, each site mostly of one class.
Matrix Blobs(uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> n(0, 1);
  Matrix pooled(300, 3);
  for (int i = 0; i < 300; ++i) {
    const int c = (i < 150) == (i % 5 != 0) ? 0 : 1;
    pooled(i, 0) = n(rng) + 3 * c;
    pooled(i, 1) = n(rng) - 2 * c;
    pooled(i, 2) = c;
  }
  return pooled;
}

TrainingOptions BlobOptions(int rounds) {
  TrainingOptions options;
  options.model.inputs = 2;
  options.model.hidden = {4};
  options.model.outputs = 2;
  options.optimizer.lr = 0.1f;
  options.rounds = rounds;
  options.batch_size = 10;
  options.seed = 3;
  return options;
}

double Accuracy(const ModelSpec& model, const Eigen::VectorXf& params, const Matrix& data) {
  const BatchStats s =
      Mlp(model).Run(params, data.leftCols(2).cast<float>(), *MakeTargets(model, Matrix(data.col(2))), nullptr);
  return static_cast<double>(s.correct) / static_cast<double>(s.rows);
}

struct BlobFederation {
  testing::TempDir dir;
  testing::LocalFederation local{dir.path(), {"a", "b", "c"}};
  Matrix pooled = Blobs(11);
  std::unique_ptr<Federation> fed;
  std::optional<std::pair<FederatedMatrix, FederatedMatrix>> data;

  explicit BlobFederation(double dp_budget = 0) {
    local.AddSplitCsvDataset("blobs", pooled, {120, 80, 100}, {"u", "v", "cls"}, "private-aggregate");
    local.AllowTraining("blobs");
    if (dp_budget > 0) {
      for (const std::string& site : local.sites()) {
        local.EditConfig(site, [&](nlohmann::json& c) {
          c["datasets"]["blobs"]["dp_training"] = {{"epsilon", dp_budget}, {"delta", 1e-5}};
        });
      }
    }
    local.StartAll();
    fed = local.Connect();
    auto read = testing::ReadFeaturesAndLabel(*fed, "blobs");
    REQUIRE_MESSAGE(read.ok(), read.status().ToString());
    data = std::move(*read);
  }

  Result<ParameterServerResult> Train(const TrainingOptions& options) {
    return TrainFederated(*fed, data->first, data->second, options);
  }
};

// `options` trained in the clear, then through secure sums, checked to be the same training:
// parameters within 1e-5 and each round's loss, every round summed in `word_bytes`-byte words
// from each of the three sites at `resolution`. Returns the secure training.
ParameterServerResult TrainedAlikeSecurely(BlobFederation& f, TrainingOptions options,
                                           const ParameterServerResult& plain, int word_bytes, double resolution) {
  options.secure.enabled = true;
  Result<ParameterServerResult> secure = f.Train(options);
  REQUIRE_MESSAGE(secure.ok(), secure.status().ToString());
  const float difference = (plain.parameters - secure->parameters).cwiseAbs().maxCoeff();
  CHECK_MESSAGE(difference < 1e-5f, "largest parameter difference ", difference);
  REQUIRE(secure->rounds.size() == plain.rounds.size());
  const double values = static_cast<double>(options.model.parameter_count() + kWeighedStats);
  for (size_t r = 0; r < secure->rounds.size(); ++r) {
    const nlohmann::json& round = secure->rounds[r];
    CAPTURE(round.dump());
    CHECK(round["secure_aggregation"]["resolution"].get<double>() == resolution);
    CHECK(round["bytes_up"].get<double>() == 3 * word_bytes * values);
    // The round's loss is the sum's.
    CHECK(round["loss"].get<double>() == doctest::Approx(plain.rounds[r]["loss"].get<double>()).epsilon(1e-6));
  }
  return std::move(secure).value();
}

// `options` trained in the clear.
ParameterServerResult TrainedPlainly(BlobFederation& f, const TrainingOptions& options) {
  Result<ParameterServerResult> plain = f.Train(options);
  REQUIRE_MESSAGE(plain.ok(), plain.status().ToString());
  return std::move(plain).value();
}

}  // namespace

TEST_CASE("secure aggregation trains FedAvg's model while the master sees only each round's sum") {
  BlobFederation f;
  TrainingOptions options = BlobOptions(6);
  const ParameterServerResult plain = TrainedPlainly(f, options);
  // The same rounds, summed in fixed point instead of doubles, then as floats: by default in
  // 32-bit words with 24 fraction bits for three sites, the updates scaled to their mean (four
  // bytes a value from each site, as the plain round's float32 updates).
  const ParameterServerResult secure = TrainedAlikeSecurely(f, options, plain, 4, 3 * std::ldexp(1.0, -25));
  CHECK(Accuracy(options.model, secure.parameters, f.pooled) > 0.8);
  REQUIRE(secure.rounds.size() == 6);
  for (const nlohmann::json& round : secure.rounds) {
    CAPTURE(round.dump());
    CHECK(round["secure_aggregation"]["sites"] == nlohmann::json{"a", "b", "c"});
    // No site's own loss, rows or accuracy appear.
    CHECK(round["sites"].empty());
    CHECK_FALSE(round.contains("accuracy"));  // private-aggregate sites withhold correct counts
  }
  // Fraction bits given (as jobs gave them before 32-bit words): 64-bit words, twice the bytes,
  // 2^-33 per site.
  options.secure.fraction_bits = 32;
  (void)TrainedAlikeSecurely(f, options, plain, 8, 3 * std::ldexp(1.0, -33));
}

TEST_CASE("secure rounds match plain ones in per-batch rounds and balanced epochs too") {
  BlobFederation f;
  SUBCASE("per-batch rounds sum gradients, which have no known range: 64-bit words") {
    TrainingOptions gradients = BlobOptions(8);
    gradients.batches_per_round = 2;
    (void)TrainedAlikeSecurely(f, gradients, TrainedPlainly(f, gradients), 8, 3 * std::ldexp(1.0, -33));
  }
  SUBCASE("balanced epochs of the largest site's rows scale each update by the round's rows") {
    TrainingOptions balanced = BlobOptions(4);
    balanced.balance.mode = "replicate";
    balanced.batch_size = 20;  // a replicated batch counts as half its rows towards the site's minimum
    (void)TrainedAlikeSecurely(f, balanced, TrainedPlainly(f, balanced), 4, 3 * std::ldexp(1.0, -25));
  }
  SUBCASE("rounds that also score rows train from the parameters the scoring left at the sites") {
    TrainingOptions options = BlobOptions(4);
    options.secure.enabled = true;
    Result<ParameterServerResult> alone = f.Train(options);
    Result<ParameterServerResult> scored =
        TrainFederated(*f.fed, f.data->first, f.data->second, options, Validation{&f.data->first, &f.data->second});
    REQUIRE_MESSAGE(alone.ok(), alone.status().ToString());
    REQUIRE_MESSAGE(scored.ok(), scored.status().ToString());
    // Masks cancel exactly in fixed point: the same training to the bit, scored every round.
    CHECK(scored->parameters == alone->parameters);
    for (const nlohmann::json& round : scored->rounds) CHECK_MESSAGE(round.contains("val_loss"), round.dump());
  }
}

TEST_CASE("what a secure sum cannot combine with is refused with the reason") {
  BlobFederation f;
  const auto refused = [&](TrainingOptions options, const std::string& why) {
    options.secure.enabled = true;
    Result<ParameterServerResult> r = f.Train(options);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == StatusCode::kInvalidArgument);
    CHECK_MESSAGE(r.status().message().find(why) != std::string::npos, r.status().message());
  };
  TrainingOptions asp = BlobOptions(2);
  asp.strategy.name = "asp";
  refused(asp, "applies each site's update on its own");
  TrainingOptions narrow = BlobOptions(2);
  narrow.secure.word_bits = 32;
  narrow.secure.fraction_bits = 31;
  refused(narrow, "fraction_bits 31 do not fit 32-bit words");
  TrainingOptions noised_narrow = BlobOptions(2);
  noised_narrow.secure.word_bits = 32;
  noised_narrow.secure.dp = {1, 1};
  refused(noised_narrow, "DP-FedAvg needs 64-bit words");
  TrainingOptions median = BlobOptions(2);
  median.aggregation.name = "median";
  refused(median, "a secure sum shows only their sum");
  TrainingOptions topk = BlobOptions(2);
  topk.compression.topk = 0.5;
  refused(topk, "compression changes each update on its own");
  TrainingOptions dp_alone = BlobOptions(2);
  dp_alone.secure.dp = {1, 1};
  Result<ParameterServerResult> r = f.Train(dp_alone);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find("turn on secure_aggregation") != std::string::npos);

  // Through the job runner: the nn job trains securely, and names the field it refuses.
  const auto job = [](const std::string& ps) {
    return ParseJobSpec(nlohmann::json::parse(R"({"algorithm": "nn", "data": {"dataset": "blobs", "label": "cls"},
                                                 "model": {"hidden": [4]}, "ps": )" +
                                              ps + "}"),
                        "job.json");
  };
  Result<JobSpec> good = job(R"({"epochs": 3, "secure_aggregation": {"threshold": 3}, "batch_size": 10})");
  REQUIRE_MESSAGE(good.ok(), good.status().ToString());
  Result<nlohmann::json> result = RunJob(*f.fed, *good);
  REQUIRE_MESSAGE(result.ok(), result.status().ToString());
  CHECK((*result)["rounds"].size() == 3);
  CHECK((*result)["rounds"][0]["secure_aggregation"]["sites"].size() == 3);
  Result<JobSpec> bad = job(R"({"strategy": "ssp", "secure_aggregation": true})");
  Result<nlohmann::json> job_refused = bad.ok() ? RunJob(*f.fed, *bad) : Result<nlohmann::json>(bad.status());
  REQUIRE_FALSE(job_refused.ok());
  CHECK_MESSAGE(job_refused.status().message().find("ps.secure_aggregation") != std::string::npos,
                job_refused.status().message());
}

TEST_CASE("DP-FedAvg reports the accountant's epsilon every round; each site refuses past its own budget") {
  // Noise multiplier 2 on updates clipped to C: the Gaussian mechanism at multiplier 1 against
  // the sensitivity 2C of replacing a row, rho = 1/2 of zCDP a round. The sites allow a little
  // more than three rounds, at delta 1e-5.
  RdpAccountant accountant;
  std::vector<double> epsilon;
  for (int r = 0; r < 4; ++r) {
    REQUIRE(accountant.Compose(1, 1, 1).ok());
    epsilon.push_back(accountant.Spent(1e-5)->epsilon);
  }
  const double budget = (epsilon[2] + epsilon[3]) / 2;
  BlobFederation f(budget);
  TrainingOptions options = BlobOptions(5);
  options.secure.enabled = true;
  options.secure.dp = {5, 2};
  std::vector<double> reported;
  options.on_iteration = [&](int, const IterationMetrics& metrics) {
    for (const auto& [key, value] : metrics) {
      if (key == "dp_epsilon") reported.push_back(value);
    }
    return Status::Ok();
  };
  Result<ParameterServerResult> r = f.Train(options);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == StatusCode::kPermissionDenied);
  CHECK_MESSAGE(r.status().message().find("past its budget") != std::string::npos, r.status().message());
  CHECK(r.status().message().find("round 4") != std::string::npos);
  REQUIRE(reported.size() == 3);
  for (size_t i = 0; i < 3; ++i) CHECK(reported[i] == doctest::Approx(epsilon[i]).epsilon(1e-12));
  // Each site wrote the refusal into its audit trail, and spent no more than its budget.
  for (const std::string& site : f.local.sites()) {
    bool refused = false;
    for (const nlohmann::json& event : f.local.audit_events(site)) {
      refused |= event.value("outcome", "") == "refused" &&
                 event.value("reason", "").find("past its budget") != std::string::npos;
    }
    CHECK_MESSAGE(refused, site);
  }
}

TEST_CASE("DP-FedAvg's noise is what the sites state, and what it costs in accuracy is reported") {
  BlobFederation f(1000);
  // Noise multiplier 100 on updates clipped to 1e-3: the parameters move by the noise alone
  // (the clipped updates add at most 0.01 over 10 rounds). Each site adds N(0, (z C)^2 / t) with
  // t = 2 of 3 sites; the server adds the mean of the 3 sites' values every round, so after 10
  // rounds each parameter has moved by N(0, 10 x 3 x (z C)^2 / t / 9).
  TrainingOptions options = BlobOptions(10);
  options.model.hidden = {32};  // 162 parameters: the variance is estimated to within about 11%
  options.secure.enabled = true;
  options.secure.dp = {1e-3, 100};
  Result<ParameterServerResult> r = f.Train(options);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  const double site_variance = std::pow(100 * 1e-3, 2) / 2;
  const double expected = 10 * 3 * site_variance / 9;
  const Eigen::VectorXd moved = (r->parameters - InitialParameters(options.model, options.seed)).cast<double>();
  const double measured = moved.squaredNorm() / static_cast<double>(moved.size());
  CHECK_MESSAGE(measured > 0.55 * expected, "variance ", measured, ", expected ", expected);  // 4 sigma
  CHECK_MESSAGE(measured < 1.5 * expected, "variance ", measured, ", expected ", expected);
  // Each site's audit trail says what it added, for its dataset.
  for (const std::string& site : f.local.sites()) {
    int noised = 0;
    for (const nlohmann::json& event : f.local.audit_events(site)) {
      if (!event.contains("noise")) continue;
      ++noised;
      CHECK(event["noise"]["sigma"].get<double>() == doctest::Approx(100 * 1e-3 / std::sqrt(2.0)));
      CHECK(event["noise"]["dataset"] == "blobs");
    }
    CHECK(noised == 10);
  }

  // A usable setting on these blobs: the accuracy is reported, not held to a bound (it varies
  // with the noise drawn).
  options = BlobOptions(20);
  options.model.hidden = {};
  options.secure.enabled = true;
  options.secure.dp = {2, 1};
  Result<ParameterServerResult> usable = f.Train(options);
  REQUIRE_MESSAGE(usable.ok(), usable.status().ToString());
  MESSAGE("DP-FedAvg, 3 sites, 20 rounds, clip 2, noise multiplier 1: epsilon "
          << usable->rounds.back()["dp_epsilon"].get<double>() << " at delta 1e-5, accuracy "
          << Accuracy(options.model, usable->parameters, f.pooled));
  CHECK_FALSE(usable->rounds.back().contains("loss"));  // not noised, so not released
}

}  // namespace fedra
