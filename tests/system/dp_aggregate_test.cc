// dp-aggregate against a real site: every released aggregate carries Gaussian noise of the
// standard deviation the site states, calibrated to the bounds its owner declared (values are
// clipped to them); differencing attacks (held-out splits, k-means clusters that differ by one
// row) yield only values off by that noise; the site's own ledger refuses releases past the
// budget, also after a restart; a job's result says what noise was added.
#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include "federated/instruction.h"
#include "master/jobs/job.h"
#include "tests/support/local_federation.h"
#include "tests/support/raw_client.h"
#include "tests/support/temp_dir.h"

namespace fedra {
namespace {

using testing::LocalFederation;
using testing::MasterSession;
using testing::TempDir;

constexpr int kClinicRows = 150;

// age in [18, 100], score in [0, 1]; the oldest row is unique.
Matrix Clinic() {
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> age(20, 80), score(0, 1);
  Matrix m(kClinicRows, 2);
  for (int i = 0; i < kClinicRows; ++i) m.row(i) << std::round(age(rng) * 100) / 100, score(rng);
  m(42, 0) = 97.5;
  return m;
}

nlohmann::json Policy(double epsilon, double multiplier) {
  return {{"epsilon", epsilon},
          {"delta", 1e-6},
          {"noise_multiplier", multiplier},
          {"bounds", {{"age", {18, 100}}, {"score", {0, 1}}, {"g", {0, 1}}}}};
}

struct DpSite {
  TempDir dir;
  LocalFederation local{dir.path(), {"a"}};
  Matrix clinic = Clinic();
  std::unique_ptr<MasterSession> wire;

  explicit DpSite(double epsilon = 30, double multiplier = 2) {
    local.AddCsvDataset("a", "clinic", clinic, {"age", "score"}, "dp-aggregate");
    Matrix gauge = Matrix::Constant(kClinicRows, 1, 0.5);
    gauge(0, 0) = 1000;  // far outside the declared [0, 1]
    local.AddCsvDataset("a", "gauge", gauge, {"g"}, "dp-aggregate");
    local.EditConfig("a", [&](nlohmann::json& c) {
      c["datasets"]["clinic"]["dp"] = Policy(epsilon, multiplier);
      c["datasets"]["gauge"]["dp"] = Policy(epsilon, multiplier);
    });
    local.StartAll();
    Connect();
  }

  void Connect() { wire = std::make_unique<MasterSession>(local.master_tls(), local.port("a")); }

  // A released aggregate and the standard deviation of the noise the site says it added.
  std::pair<Matrix, double> Released(Request q) {
    Response r = wire->One(std::move(q));
    REQUIRE_MESSAGE(r.status.ok(), r.status.ToString());
    REQUIRE(r.value);
    REQUIRE(r.meta.contains("dp"));
    return {*r.value, r.meta["dp"]["sigma"].get<double>()};
  }
};

// The root mean square of z-scores: about 1 when the errors are the stated noise.
double Rms(const std::vector<double>& z) {
  double total = 0;
  for (double v : z) total += v * v;
  return std::sqrt(total / static_cast<double>(z.size()));
}

}  // namespace

TEST_CASE("dp-aggregate releases carry the stated noise, and a split's difference is off by exactly that") {
  DpSite s;
  const VarId x = s.wire->Read("clinic");
  const Eigen::RowVectorXd truth = s.clinic.colwise().sum();
  std::vector<double> release_z, attack_z;
  // 32 z-scores per statistic: its square sum is chi-square with 32 degrees of freedom when the
  // noise is as stated, so an RMS outside [0.5, 1.6] happens by chance about once in 10^5 runs
  // (with 16, once in 800: it did). 48 releases stay within the dataset's budget.
  for (uint64_t seed = 1; seed <= 16; ++seed) {
    auto [all, sigma_all] = s.Released(Request::Run(0, Op::kColSums, {x}, true));
    // Sensitivity of a column sum when one row is replaced: the width of each column's bounds.
    CHECK(sigma_all == doctest::Approx(2 * std::hypot(82.0, 1.0)));
    for (Eigen::Index j = 0; j < 2; ++j) release_z.push_back((all(0, j) - truth(j)) / sigma_all);
    const VarId train = s.wire->NewId(), held = s.wire->NewId();
    const nlohmann::json split = {{"fraction", 0.3}, {"seed", seed}};
    nlohmann::json held_split = split;
    held_split["held_out"] = true;
    REQUIRE(s.wire->One(Request::Run(train, {Op::kSplitRows, split}, {x})).status.ok());
    REQUIRE(s.wire->One(Request::Run(held, {Op::kSplitRows, held_split}, {x})).status.ok());
    auto [kept, sigma_kept] = s.Released(Request::Run(0, Op::kColSums, {train}, true));
    auto [out, sigma_out] = s.Released(Request::Run(0, Op::kColSums, {held}, true));
    // What the attack reconstructs, all - kept, differs from the held-out sum by the noise alone.
    const double sigma = std::sqrt(sigma_all * sigma_all + sigma_kept * sigma_kept + sigma_out * sigma_out);
    for (Eigen::Index j = 0; j < 2; ++j) attack_z.push_back((all(0, j) - kept(0, j) - out(0, j)) / sigma);
  }
  MESSAGE("z-score RMS: releases " << Rms(release_z) << ", split differences " << Rms(attack_z));
  CHECK(Rms(release_z) > 0.5);
  CHECK(Rms(release_z) < 1.6);
  CHECK(Rms(attack_z) > 0.5);
  CHECK(Rms(attack_z) < 1.6);
}

TEST_CASE("k-means clusters that differ by one row give that row only under the stated noise") {
  DpSite s;
  const VarId x = s.wire->Read("clinic");
  const Eigen::RowVectorXd oldest = s.clinic.row(42);
  std::vector<double> z;
  for (int repeat = 0; repeat < 6; ++repeat) {
    // Centres mirrored across age = t: just below the oldest row, the upper cluster holds it alone.
    auto step = [&](double t) {
      const VarId centres = s.wire->Put(Matrix{{t + 50, 0.5}, {t - 50, 0.5}});
      return s.Released(Request::Run(0, KMeansStepParams{.k = 2}, {x, centres}, true));
    };
    auto [with, sigma_with] = step(97);
    auto [without, sigma_without] = step(99);
    const double sigma = std::hypot(sigma_with, sigma_without);
    for (Eigen::Index j = 0; j < 2; ++j) z.push_back((with(0, j) - without(0, j) - oldest(j)) / sigma);
    z.push_back((with(0, 2) - without(0, 2) - 1) / sigma);  // the count
    CHECK(sigma > 10 * 82);                                 // far more than the whole range of an age
  }
  MESSAGE("z-score RMS of the reconstructed row: " << Rms(z));
  CHECK(Rms(z) > 0.5);
  CHECK(Rms(z) < 1.6);
}

TEST_CASE("values outside the declared bounds are clipped before anything is summed") {
  DpSite s;
  const VarId g = s.wire->Read("gauge");
  auto [sum, sigma] = s.Released(Request::Run(0, Op::kColSums, {g}, true));
  CHECK(sigma == doctest::Approx(2.0));  // bounds [0, 1], noise multiplier 2
  const double clipped = 149 * 0.5 + 1;
  CHECK(std::abs(sum(0, 0) - clipped) < 8 * sigma);
}

TEST_CASE("dp-aggregate refuses what its noise could not cover") {
  DpSite s;
  const VarId x = s.wire->Read("clinic");
  // Less noise than the data owner set.
  Response quiet = s.wire->One(Request::Run(0, {Op::kColSums, {{"noise_multiplier", 1}}}, {x}, true));
  CHECK(quiet.status.code() == StatusCode::kInvalidArgument);
  CHECK(quiet.status.message().find("may ask for more noise than the dataset's") != std::string::npos);
  // Values scaled past what a double holds: no finite noise covers them.
  const VarId huge = s.wire->NewId();
  REQUIRE(s.wire->One(Request::Run(huge, Op::kMul, {x, s.wire->Put(Matrix::Constant(1, 1, 1e300))})).status.ok());
  Response overflow = s.wire->One(Request::Run(0, Op::kColSums, {huge}, true));
  CHECK(overflow.status.code() == StatusCode::kPermissionDenied);
  CHECK(overflow.status.message().find("not finite") != std::string::npos);
  // A one-row split times a master's huge scalar: the scalar is not in the bounds, so t(X) %*% Y
  // needs Y to be rows of the dataset too.
  VarId single = 0;
  for (uint64_t seed = 1; seed < 400 && single == 0; ++seed) {
    const VarId part = s.wire->NewId();
    Response split = s.wire->One(
        Request::Run(part, {Op::kSplitRows, {{"fraction", 0.01}, {"seed", seed}, {"held_out", true}}}, {x}));
    REQUIRE(split.status.ok());
    if (split.meta["rows"] == 1) single = part;
  }
  REQUIRE(single != 0);
  Response scaled =
      s.wire->One(Request::Run(0, Op::kTmatmul, {single, s.wire->Put(Matrix::Constant(1, 1, 1e12))}, true));
  CHECK(scaled.status.code() == StatusCode::kPermissionDenied);
  CHECK(scaled.status.message().find("second input of its own rows") != std::string::npos);
}

TEST_CASE("the site's ledger refuses releases past the budget, and remembers them across a restart") {
  DpSite s(/*epsilon=*/15, /*multiplier=*/0.5);  // each release costs rho = 2: epsilon 12.5, then 18.9
  const VarId x = s.wire->Read("clinic");
  REQUIRE(s.wire->One(Request::Run(0, Op::kColSums, {x}, true)).status.ok());
  Response refused = s.wire->One(Request::Run(0, Op::kColSums, {x}, true));
  CHECK(refused.status.code() == StatusCode::kPermissionDenied);
  CHECK(refused.status.message().find("past its budget") != std::string::npos);
  CHECK_FALSE(refused.value.has_value());
  // A request may ask for more noise, which costs less.
  Response quieter = s.wire->One(Request::Run(0, {Op::kColSums, {{"noise_multiplier", 8}}}, {x}, true));
  CHECK_MESSAGE(quieter.status.ok(), quieter.status.ToString());
  CHECK(quieter.meta["dp"]["noise_multiplier"] == 8);
  CHECK(quieter.meta["dp"]["releases"] == 2);

  bool logged = false;
  for (const nlohmann::json& j : s.local.audit_events("a")) {
    if (j["outcome"] == "refused" && j["reason"].get<std::string>().find("budget") != std::string::npos) logged = true;
  }
  CHECK(logged);

  const auto ledger = s.local.kit("a") / "privacy-ledger.json";
  CHECK((std::filesystem::status(ledger).permissions() & std::filesystem::perms::group_all) ==
        std::filesystem::perms::none);
  CHECK(s.local.Stop("a") == 0);
  s.local.Start("a");
  s.Connect();
  const VarId again = s.wire->Read("clinic");
  CHECK(s.wire->One(Request::Run(0, Op::kColSums, {again}, true)).status.code() == StatusCode::kPermissionDenied);
}

TEST_CASE("jobs on dp-aggregate data: lm and pca report their noise; algorithms without a noised form are refused") {
  DpSite s(/*epsilon=*/1000, /*multiplier=*/0.25);  // 150 rows: little noise, or t(X) %*% X loses its shape
  auto fed = s.local.Connect();
  auto run = [&](const std::string& text) {
    Result<JobSpec> spec = ParseJobSpec(nlohmann::json::parse(text), "job.json");
    REQUIRE_MESSAGE(spec.ok(), spec.status().ToString());
    return RunJob(*fed, *spec);
  };
  Result<nlohmann::json> lm = run(R"({"algorithm": "lm", "data": {"dataset": "clinic", "label": "score"}})");
  REQUIRE_MESSAGE(lm.ok(), lm.status().ToString());
  REQUIRE((*lm)["privacy"]["noise"].size() == 1);
  const nlohmann::json& noise = (*lm)["privacy"]["noise"][0];
  CHECK(noise["site"] == "a");
  CHECK(noise["dataset"] == "clinic");
  CHECK(noise["releases"] == 2);  // t(Z) %*% Z and colSums(Z)
  CHECK(noise["sigma_max"].get<double>() > 0);
  CHECK(noise["epsilon_spent"].get<double>() > 0);
  Result<nlohmann::json> pca = run(R"({"algorithm": "pca", "data": {"dataset": "clinic"}, "params": {"k": 1}})");
  REQUIRE_MESSAGE(pca.ok(), pca.status().ToString());
  CHECK((*pca)["privacy"]["noise"][0]["releases"] == 2);
  // What has no noised form is refused; so is fitting a transform (a classifier's label coding).
  for (auto [job, why] :
       {std::pair{R"({"algorithm": "lmCG", "data": {"dataset": "clinic", "label": "score"}})", "no noised form"},
        {R"({"algorithm": "kmeans", "data": {"dataset": "clinic"}, "params": {"k": 2}})", "no noised form"},
        {R"({"algorithm": "logreg", "data": {"dataset": "clinic", "label": "score"}})",
         "it releases no statistics for fitting a transform"}}) {
    Status refused = run(job).status();
    CHECK_MESSAGE(refused.code() == StatusCode::kPermissionDenied, refused.ToString());
    CHECK_MESSAGE(refused.message().find(why) != std::string::npos, refused.message());
  }
}

}  // namespace fedra
