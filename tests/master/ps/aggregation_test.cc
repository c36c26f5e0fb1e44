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
