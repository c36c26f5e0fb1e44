#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "master/ps/aggregation.h"
#include "master/ps/server_optimizer.h"

namespace fedra {
namespace {

SiteUpdate Update(std::vector<float> values, double rows) {
  SiteUpdate u;
  u.values = Eigen::Map<Eigen::VectorXf>(values.data(), static_cast<Eigen::Index>(values.size()));
  u.rows = rows;
  return u;
}

TEST_CASE("aggregators: weighted mean, coordinate-wise median, trimmed mean resist an outlier") {
  const SiteUpdate a = Update({1, 10}, 1), b = Update({2, 20}, 1), c = Update({3, 30}, 2),
                   wild = Update({1000, -1000}, 1);
  const std::vector<const SiteUpdate*> honest = {&a, &b, &c};
  Eigen::VectorXf mean = Aggregate(AggregationSpec{"mean"}, honest);
  CHECK(mean[0] == doctest::Approx((1 + 2 + 3 * 2) / 4.0));
  CHECK(mean[1] == doctest::Approx((10 + 20 + 30 * 2) / 4.0));

  const std::vector<const SiteUpdate*> attacked = {&a, &b, &c, &wild};
  Eigen::VectorXf median = Aggregate(AggregationSpec{"median"}, attacked);
  CHECK(median[0] == doctest::Approx(2.5));  // 1 2 3 1000
  CHECK(median[1] == doctest::Approx(15));   // -1000 10 20 30
  Eigen::VectorXf trimmed = Aggregate(AggregationSpec{"trimmed_mean", 0.25}, attacked);
  CHECK(trimmed[0] == doctest::Approx(2.5));  // drops 1 and 1000
  CHECK(trimmed[1] == doctest::Approx(15));   // drops -1000 and 30
  CHECK(CheckAggregation(AggregationSpec{"trimmed_mean", 0.5}).message() ==
        "trimmed_mean: trim must be in [0, 0.5), got 0.500000");
  CHECK(CheckAggregation(AggregationSpec{"krum"}).message().find("unknown aggregator 'krum'") != std::string::npos);
}

TEST_CASE("the weighted mean of updates longer than its blocks is the mean of each coordinate") {
  std::vector<SiteUpdate> updates;
  const std::vector<double> rows = {3, 1, 12};
  for (size_t k = 0; k < rows.size(); ++k) {
    SiteUpdate u;
    u.values = Eigen::VectorXf::Random(10007);
    u.rows = rows[k];
    updates.push_back(std::move(u));
  }
  const std::vector<const SiteUpdate*> all = {&updates[0], &updates[1], &updates[2]};
  const Eigen::VectorXf mean = Aggregate(AggregationSpec{"mean"}, all);
  REQUIRE(mean.size() == 10007);
  double worst = 0;
  for (Eigen::Index i = 0; i < mean.size(); ++i) {
    const double want = (3.0 * updates[0].values[i] + updates[1].values[i] + 12.0 * updates[2].values[i]) / 16.0;
    worst = std::max(worst, std::abs(mean[i] - want));
  }
  CHECK(worst <= 1e-7);  // a float's rounding of values below 1
}

TEST_CASE("aggregates of long updates split over cores equal those made on one") {
  // Five updates of 300,007 values: ranges of 52,428 coordinates (2^18 values read in each), so
  // several cores take a part, and the last part is short.
  std::vector<SiteUpdate> updates;
  for (int k = 0; k < 5; ++k) {
    SiteUpdate u;
    u.values = Eigen::VectorXf::Random(300007);
    u.rows = 1 + 2 * k;
    updates.push_back(std::move(u));
  }
  std::vector<const SiteUpdate*> all;
  for (const SiteUpdate& u : updates) all.push_back(&u);
  for (const AggregationSpec& spec :
       {AggregationSpec{"mean"}, AggregationSpec{"median"}, AggregationSpec{"trimmed_mean", 0.2}}) {
    CAPTURE(spec.name);
    const Eigen::VectorXf one = Aggregate(spec, all, 1), sixteen = Aggregate(spec, all, 16);
    CHECK(sixteen == one);
    for (size_t cores : {2, 5}) {
      CAPTURE(cores);
      CHECK(Aggregate(spec, all, cores) == one);
    }
    // Spot checks against each coordinate's definition, at both ends and at the edge of the
    // first two of six ranges.
    for (Eigen::Index i : {Eigen::Index{0}, Eigen::Index{52427}, Eigen::Index{52428}, Eigen::Index{300006}}) {
      CAPTURE(i);
      std::vector<float> column;
      double weighted = 0;
      for (const SiteUpdate& u : updates) {
        column.push_back(u.values[i]);
        weighted += u.rows * u.values[i];
      }
      std::sort(column.begin(), column.end());
      const double want = spec.name == "mean"     ? weighted / 25.0  // rows 1 + 3 + 5 + 7 + 9
                          : spec.name == "median" ? column[2]
                                                  : (column[1] + column[2] + column[3]) / 3.0;
      CHECK(sixteen[i] == doctest::Approx(want).epsilon(1e-6));
    }
  }
}

TEST_CASE("medians and trimmed means of few and many updates are those of the sorted values") {
  // 1 and 2 keep every value; 3 and 4 sort; 17, 20 and 21 select (a trim of 0.2 keeps more than
  // two, one of 0.04 cuts none).
  for (const int k : {1, 2, 3, 4, 17, 20, 21}) {
    CAPTURE(k);
    std::vector<SiteUpdate> updates(static_cast<size_t>(k));
    std::vector<const SiteUpdate*> all;
    for (SiteUpdate& u : updates) {
      u.values = Eigen::VectorXf::Random(1000);
      u.values[7] = 0.5f;  // ties
      u.rows = 1;
      all.push_back(&u);
    }
    const Eigen::VectorXf median = Aggregate(AggregationSpec{"median"}, all);
    const Eigen::VectorXf trimmed = Aggregate(AggregationSpec{"trimmed_mean", 0.2}, all);
    const Eigen::VectorXf uncut = Aggregate(AggregationSpec{"trimmed_mean", 0.04}, all);
    const size_t cut = static_cast<size_t>(0.2 * k);
    for (Eigen::Index i = 0; i < 1000; ++i) {
      std::vector<double> column;
      for (const SiteUpdate& u : updates) column.push_back(u.values[i]);
      std::sort(column.begin(), column.end());
      const size_t m = column.size() / 2;
      const double want_median = k % 2 ? column[m] : (column[m - 1] + column[m]) / 2;
      double kept = 0;
      for (size_t j = cut; j < column.size() - cut; ++j) kept += column[j];
      CHECK(median[i] == doctest::Approx(want_median).epsilon(1e-6));
      CHECK(trimmed[i] == doctest::Approx(kept / static_cast<double>(column.size() - 2 * cut)).epsilon(1e-6));
      double all_values = 0;
      for (double v : column) all_values += v;
      CHECK(uncut[i] == doctest::Approx(all_values / k).epsilon(1e-6));
    }
  }
}

TEST_CASE("server optimizers: FedAvg, server momentum, FedAdam and FedYogi steps") {
  const Eigen::VectorXf delta = Eigen::Vector2f(0.5f, -2.0f);
  Eigen::VectorXf p = Eigen::VectorXf::Zero(2);
  MakeDeltaOptimizer(ServerOptimizerSpec{}, 2)->Apply(&p, delta, 0);
  CHECK(p == delta);  // plain FedAvg: the mean delta, whole

  ServerOptimizerSpec momentum;
  momentum.momentum = 0.5;
  auto m = MakeDeltaOptimizer(momentum, 2);
  p.setZero();
  m->Apply(&p, delta, 0);
  m->Apply(&p, delta, 0);
  CHECK(p[0] == doctest::Approx(0.5 + 0.75));  // v1 = d, v2 = 1.5 d

  for (const char* name : {"fedadam", "fedyogi"}) {
    CAPTURE(name);
    Result<ServerOptimizerSpec> spec = ParseServerOptimizerSpec({{"name", name}, {"lr", 0.1}, {"tau", 0.01}}, "so");
    REQUIRE(spec.ok());
    auto opt = MakeDeltaOptimizer(*spec, 2);
    p.setZero();
    opt->Apply(&p, delta, 0);
    // First step from v0 = tau^2: m = 0.1 d; adam: v = 0.99 tau^2 + 0.01 d^2; yogi: v = tau^2 + 0.01 d^2.
    for (int i = 0; i < 2; ++i) {
      const double d = delta[i], tau2 = 1e-4;
      const double v = std::string(name) == "fedadam" ? 0.99 * tau2 + 0.01 * d * d : tau2 + 0.01 * d * d;
      CHECK(p[i] == doctest::Approx(0.1 * 0.1 * d / (std::sqrt(v) + 0.01)).epsilon(1e-4));
    }
  }
  CHECK(ParseServerOptimizerSpec({{"name", "adagrad"}}, "ps.server_optimizer")
            .status()
            .message()
            .find("ps.server_optimizer.name: unknown server optimizer 'adagrad'") != std::string::npos);
  CHECK(
      ParseServerOptimizerSpec({{"lr", -1}}, "ps.server_optimizer").status().message().find("ps.server_optimizer.lr") !=
      std::string::npos);
}

}  // namespace
}  // namespace fedra
