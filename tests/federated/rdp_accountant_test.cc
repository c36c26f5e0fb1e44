// The RDP accountant against the figures TensorFlow Privacy, dp_accounting and Opacus publish in
// their own tests, each case citing where its figure comes from, with that test's tolerance.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <span>
#include <vector>

#include "federated/rdp_accountant.h"

namespace fedra {
namespace {

constexpr double kNoOrder = std::numeric_limits<double>::quiet_NaN();

// Python's assertAlmostEqual(places=p) passes when |a - b| rounds to 0 at p places.
constexpr double kPlaces5 = 5e-6;
constexpr double kPlaces7 = 5e-8;

void CheckNear(double actual, double expected, double tolerance) {
  INFO("actual ", actual, ", expected ", expected, " within ", tolerance);
  CHECK(std::abs(actual - expected) <= tolerance);
}

std::vector<double> Range(int from, int to) {  // [from, to), as Python's range
  std::vector<double> v;
  for (int a = from; a < to; ++a) v.push_back(a);
  return v;
}

std::vector<double> Concat(std::vector<double> a, const std::vector<double>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// TF Privacy's compute_dp_sgd_privacy_lib.py orders.
std::vector<double> DpSgdOrders() {
  return Concat(Concat({1.25, 1.5, 1.75, 2., 2.25, 2.5, 3., 3.5, 4., 4.5}, Range(5, 64)), {128, 256, 512});
}

// Opacus's RDPAccountant.DEFAULT_ALPHAS.
std::vector<double> OpacusAlphas() {
  std::vector<double> v;
  for (int x = 1; x < 100; ++x) v.push_back(1 + x / 10.0);
  return Concat(v, Range(12, 64));
}

// 0.001 * i for i in [1000, 100000), as rdp_accountant_test.py picks them to find the best order.
std::vector<double> FineOrders() {
  std::vector<double> v;
  for (int i = 1000; i < 100000; ++i) v.push_back(0.001 * i);
  return v;
}

// The orders of rdp_accountant_test.py's test_check_composition.
const std::vector<double> kCompositionOrders = {1.25, 1.5, 1.75, 2.,  2.5, 3.,  4.,  5.,  6.,  7.,  8.,
                                                10.,  12., 14.,  16., 20., 24., 28., 32., 64., 256.};

struct Run {
  double q, z;
  int64_t steps;
};

struct PublishedEpsilon {
  const char* source;
  std::vector<Run> runs;
  std::vector<double> orders;
  double delta;
  RdpConversion conversion;
  double epsilon;
  double tolerance;
  double order;  // kNoOrder where the source does not state it
};

// TFP: github.com/tensorflow/privacy. Its conversion changed in commit be8175b (2020-12-30): the
// figures from before it use Mironov 2017, those after it Balle et al. 2020.
const char kTfpRdpTest[] = "tensorflow/privacy tensorflow_privacy/privacy/analysis/rdp_accountant_test.py";
const char kTfpDpSgdTest[] = "tensorflow/privacy tensorflow_privacy/privacy/analysis/compute_dp_sgd_privacy_test.py";
const char kOpacusTest[] = "pytorch/opacus opacus/tests/accountants_test.py";

std::vector<PublishedEpsilon> PublishedEpsilons() {
  const auto mironov = RdpConversion::kMironov2017, balle = RdpConversion::kBalle2020;
  return {
      // test_get_privacy_spent_check_target_delta before be8175b: compute_rdp(0.01, 4, 10000,
      // range(2, 33)) at 1e-5 is eps 1.258575 (places=5) at order 20.
      {kTfpRdpTest, {{0.01, 4, 10000}}, Range(2, 33), 1e-5, mironov, 1.258575, kPlaces5, 20},
      // test_check_composition before be8175b (kept there as a comment since): q=1e-4, z=.4, 40000
      // steps, then q=0.1, z=2, 100 steps, at 1e-5 is eps 8.509656 (places=5) at order 2.5.
      {kTfpRdpTest, {{1e-4, .4, 40000}, {0.1, 2, 100}}, kCompositionOrders, 1e-5, mironov, 8.509656, kPlaces5, 2.5},
      // test_get_privacy_spent_check_target_delta since be8175b: z = 4.530877117 without sampling
      // is exactly (1, 1e-6)-DP over orders 0.001 * i, i in [1000, 100000) (places=7).
      {kTfpRdpTest, {{1, 4.530877117, 1}}, FineOrders(), 1e-6, balle, 1, kPlaces7, kNoOrder},
      // test_compute_dp_sgd_privacy, (n, batch, z, epochs, delta) with q = batch / n and
      // ceil(epochs n / batch) steps; since be8175b (Test1 reads ...842 since 2024, both within
      // places=7): Test0 (60000, 150, 1.3, 15, 1e-5) is 0.7242234026109595 at order 19.
      {kTfpDpSgdTest, {{150 / 60000.0, 1.3, 6000}}, DpSgdOrders(), 1e-5, balle, 0.7242234026109595, kPlaces7, 19},
      // Test1 (100000, 100, 1.0, 30, 1e-7) is 1.4154988495444845 at order 13.
      {kTfpDpSgdTest, {{100 / 100000.0, 1.0, 30000}}, DpSgdOrders(), 1e-7, balle, 1.4154988495444845, kPlaces7, 13},
      // Test2 (1e8, 1024, 0.1, 10, 1e-7) is 5907982.31138195 at order 1.25; 5907982.3113984 since
      // commit 8b3d8e1 (2024, "Improve numerical stability of RDP computation"). Seven digits
      // before the point leave places=7 to each libm's last bit: 5.9e-6 (1e-12 relative) here,
      // which both figures meet.
      {kTfpDpSgdTest, {{1024 / 1e8, 0.1, 976563}}, DpSgdOrders(), 1e-7, balle, 5907982.31138195, 5.9e-6, 1.25},
      // The same three before be8175b (places=7): 0.941870567, 1.70928734, 5907984.81339406.
      {kTfpDpSgdTest, {{150 / 60000.0, 1.3, 6000}}, DpSgdOrders(), 1e-5, mironov, 0.941870567, kPlaces7, 19},
      {kTfpDpSgdTest, {{100 / 100000.0, 1.0, 30000}}, DpSgdOrders(), 1e-7, mironov, 1.70928734, kPlaces7, 13},
      {kTfpDpSgdTest, {{1024 / 1e8, 0.1, 976563}}, DpSgdOrders(), 1e-7, mironov, 5907984.81339406, 5.9e-6, 1.25},
      // Opacus's test_rdp_accountant: z=1.5, sample rate 0.04, int(90 / 0.04) = 2250 steps,
      // DEFAULT_ALPHAS, at 1e-5 is 7.32911117143 (places=7).
      {kOpacusTest, {{0.04, 1.5, 2250}}, OpacusAlphas(), 1e-5, balle, 7.32911117143, kPlaces7, kNoOrder},
  };
}

TEST_CASE("epsilon of composed runs matches published figures") {
  for (const PublishedEpsilon& c : PublishedEpsilons()) {
    INFO(c.source, " expecting ", c.epsilon);
    RdpAccountant accountant(c.orders);
    for (const Run& r : c.runs) REQUIRE(accountant.Compose(r.q, r.z, r.steps).ok());
    Result<DpGuarantee> spent = accountant.Spent(c.delta, c.conversion);
    REQUIRE(spent.ok());
    CheckNear(spent->epsilon, c.epsilon, c.tolerance);
    CHECK(spent->delta == c.delta);
    if (!std::isnan(c.order)) CHECK(spent->order == c.order);
  }
}

TEST_CASE("the improved conversion never exceeds the published classic figure") {
  // rdp_accountant_test.py test_check_composition since be8175b: the same two runs at 1e-5 give
  // eps <= 8.509656, the figure of the old conversion.
  RdpAccountant accountant(kCompositionOrders);
  REQUIRE(accountant.Compose(1e-4, .4, 40000).ok());
  REQUIRE(accountant.Compose(0.1, 2, 100).ok());
  Result<DpGuarantee> spent = accountant.Spent(1e-5);
  REQUIRE(spent.ok());
  CHECK(spent->epsilon <= 8.509656);
}

TEST_CASE("a constant RDP curve, pure DP, converts as published") {
  // rdp_accountant_test.py (since be8175b) and google/differential-privacy
  // python/dp_accounting/dp_accounting/rdp/rdp_privacy_accountant_test.py
  // test_compute_epsilon_delta_pure_dp: rdp 1.1 at orders 2..32 and delta 1e-5 give eps
  // 1.32783806176 (places=7) at order 32.
  const std::vector<double> orders = Range(2, 33);
  const std::vector<double> rdp(orders.size(), 1.1);
  const DpGuarantee g = EpsilonFromRdp(orders, rdp, 1e-5);
  CheckNear(g.epsilon, 1.32783806176, kPlaces7);
  CHECK(g.order == 32);
}

TEST_CASE("RDP of the sampled Gaussian matches published values") {
  const std::vector<double> orders = {1.5, 2.5, 5, 50, 100};
  const std::vector<double> rdp = GaussianRdp(0.01, 2.5, 50, orders);
  REQUIRE(rdp.size() == orders.size());

  // rdp_accountant_test.py test_compute_rdp_sequence: compute_rdp(0.01, 2.5, 50, orders) within
  // delta=1e-5.
  const double tfp[] = {0.00065, 0.001085, 0.00218075, 0.023846, 167.416307};
  for (size_t k = 0; k < orders.size(); ++k) CheckNear(rdp[k], tfp[k], 1e-5);

  // google/differential-privacy python/dp_accounting/rdp/rdp_privacy_accountant_test.py (an
  // earlier layout) test_compute_rdp_poisson_sampled_gaussian: the same, np.allclose, rtol=1e-4.
  const double dpa[] = {6.5007e-04, 1.0854e-03, 2.1808e-03, 2.3846e-02, 1.6742e+02};
  for (size_t k = 0; k < orders.size(); ++k) CheckNear(rdp[k], dpa[k], 1e-8 + 1e-4 * dpa[k]);

  // Its current version (python/dp_accounting/dp_accounting/rdp/...) gives 6.70579741e-04,
  // 1.08548710e-03, 2.18075656e-03, 2.38460375e-02, 1.67416308e02 (rtol=1e-4): the integer orders
  // agree; at fractional orders it sums the series' magnitudes, an upper bound on this exact sum.
  const double current[] = {6.70579741e-04, 1.08548710e-03, 2.18075656e-03, 2.38460375e-02, 1.67416308e02};
  CHECK(rdp[0] <= current[0]);
  CHECK(rdp[1] <= current[1]);
  for (size_t k = 2; k < orders.size(); ++k) CheckNear(rdp[k], current[k], 1e-8 + 1e-4 * current[k]);

  // rdp_accountant_test.py test_compute_rdp_scalar: compute_rdp(0.1, 2, 10, 5) is 0.07737
  // (places=5).
  const double order5[] = {5};
  CheckNear(GaussianRdp(0.1, 2, 10, order5)[0], 0.07737, kPlaces5);
}

TEST_CASE("no sampling and empty samples give the closed forms") {
  const double order20[] = {20};
  // rdp_accountant_test.py test_compute_rdp_no_data and test_compute_rdp_no_sampling:
  // compute_rdp(0, 10, 1, 20) == 0 and compute_rdp(1, 10, 1, 20) == 0.1, exactly.
  CHECK(GaussianRdp(0, 10, 1, order20)[0] == 0);
  CHECK(GaussianRdp(1, 10, 1, order20)[0] == 0.1);

  // test_compute_heterogeneous_rdp_different_sampling_probabilities: q 0 then 1, z 10, one step
  // each, at order 20 sum to 0.1, exactly.
  RdpAccountant heterogeneous(order20);
  REQUIRE(heterogeneous.Compose(0, 10, 1).ok());
  REQUIRE(heterogeneous.Compose(1, 10, 1).ok());
  CHECK(heterogeneous.rdp()[0] == 0.1);

  // dp_accounting rdp_privacy_accountant_test.py test_compute_rdp_gaussian: alpha / (2 sigma^2).
  const double pi_order[] = {3.14159};
  CHECK(GaussianRdp(1, 2.71828, 1, pi_order)[0] == doctest::Approx(3.14159 / (2 * 2.71828 * 2.71828)));

  // Without sampling, `steps` runs cost alpha / (2 z^2) x steps at every order.
  const std::span<const double> orders = DefaultRdpOrders();
  const std::vector<double> rdp = GaussianRdp(1, 1.7, 25, orders);
  for (size_t k = 0; k < orders.size(); ++k) {
    CHECK(rdp[k] == doctest::Approx(orders[k] / (2 * 1.7 * 1.7) * 25).epsilon(1e-14));
  }
}

TEST_CASE("RDP grows with the order, across integer and fractional orders") {
  // Rényi divergence is nondecreasing in its order; the two series must agree where they meet.
  for (const Run& r : {Run{0.01, 1.1, 1}, Run{0.001, 0.7, 1}, Run{0.2, 3, 1}, Run{0.5, 1, 1}}) {
    INFO("q ", r.q, " z ", r.z);
    const std::vector<double> rdp = GaussianRdp(r.q, r.z, r.steps, DefaultRdpOrders());
    for (size_t k = 1; k < rdp.size(); ++k) CHECK(rdp[k] >= rdp[k - 1] * (1 - 1e-9));
    const double near_four[] = {4, 4 + 1e-7};
    const std::vector<double> pair = GaussianRdp(r.q, r.z, 1, near_four);
    CHECK(pair[1] == doctest::Approx(pair[0]).epsilon(1e-5));
  }
}

TEST_CASE("the accountant starts at zero and refuses invalid parameters") {
  RdpAccountant accountant;
  Result<DpGuarantee> spent = accountant.Spent(1e-5);
  REQUIRE(spent.ok());
  CHECK(spent->epsilon == 0);

  CHECK(accountant.Compose(-0.1, 1, 1).code() == StatusCode::kInvalidArgument);
  CHECK(accountant.Compose(1.5, 1, 1).code() == StatusCode::kInvalidArgument);
  CHECK(accountant.Compose(0.1, 0, 1).code() == StatusCode::kInvalidArgument);
  CHECK(accountant.Compose(0.1, std::nan(""), 1).code() == StatusCode::kInvalidArgument);
  CHECK(accountant.Compose(0.1, 1, -1).code() == StatusCode::kInvalidArgument);
  for (double rdp : accountant.rdp()) CHECK(rdp == 0);  // nothing was added

  CHECK(accountant.Spent(0).status().code() == StatusCode::kInvalidArgument);
  CHECK(accountant.Spent(1).status().code() == StatusCode::kInvalidArgument);

  // Zero steps and empty samples cost nothing.
  REQUIRE(accountant.Compose(0.1, 1, 0).ok());
  REQUIRE(accountant.Compose(0, 1, 1000).ok());
  CHECK(accountant.Spent(1e-5)->epsilon == 0);
}

}  // namespace
}  // namespace fedra
