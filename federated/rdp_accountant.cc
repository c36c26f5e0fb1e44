#include "federated/rdp_accountant.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <string>

namespace fedra {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Terms of the fractional-order series are added until both fall below exp(-30), as TensorFlow
// Privacy does. Far out they shrink only polynomially, so a cap bounds the work; an order that
// reaches it is left out (+inf), which can only loosen epsilon, never understate it.
constexpr double kNegligibleLogTerm = -30;
constexpr int kMaxFractionalTerms = 100000;

// log(exp(x) + exp(y)), with -inf as log(0).
double LogAdd(double x, double y) {
  const double lo = std::min(x, y), hi = std::max(x, y);
  if (lo == -kInf) return hi;
  return hi + std::log1p(std::exp(lo - hi));
}

// log(exp(x) - exp(y)) for x >= y; -expm1 keeps it exact when x and y are close.
double LogSub(double x, double y) {
  if (y == -kInf) return x;
  if (x == y) return -kInf;
  return x + std::log(-std::expm1(y - x));
}

// log(erfc(x)), accurate where erfc itself would underflow. erfc stays a normal double up to
// x = 26.5; from 25 on the asymptotic series is used, whose next term is below 1e-12 there.
double LogErfc(double x) {
  if (x < 25) return std::log(std::erfc(x));
  const double r = 1 / (2 * x * x);
  return -x * x - std::log(x) - 0.5 * std::log(std::numbers::pi) + std::log1p(r * (-1 + r * (3 + r * (-15 + r * 105))));
}

// log(A_alpha) for integer alpha and 0 < q < 1 (Mironov, Talwar & Zhang 2019, Section 3.3): the
// binomial expansion, a finite sum of positive terms. The binomial coefficient is carried in log
// space step by step, so no lgamma (which writes a global) is needed.
double LogAInteger(double q, double sigma, int64_t alpha) {
  const double log_q = std::log(q), log_1mq = std::log1p(-q);
  double log_a = -kInf, log_coef = 0;  // log C(alpha, 0)
  for (int64_t i = 0; i <= alpha; ++i) {
    const double di = static_cast<double>(i);
    log_a = LogAdd(
        log_a, log_coef + di * log_q + static_cast<double>(alpha - i) * log_1mq + (di * di - di) / (2 * sigma * sigma));
    if (i < alpha) log_coef += std::log(static_cast<double>(alpha - i)) - std::log(di + 1);
  }
  return log_a;
}

// log(A_alpha) for fractional alpha and 0 < q < 1 (same section): the integral split at z0 where
// the two Gaussians' mixture ratio crosses, each half an infinite series whose terms change sign
// once i passes alpha. +inf when the series does not settle or a partial sum would turn negative.
double LogAFractional(double q, double sigma, double alpha) {
  const double log_q = std::log(q), log_1mq = std::log1p(-q);
  const double z0 = sigma * sigma * std::log(1 / q - 1) + 0.5;
  const double scale = std::numbers::sqrt2 * sigma, log_half = std::log(0.5);
  double log_a0 = -kInf, log_a1 = -kInf;
  double log_coef = 0;  // log |C(alpha, i)|, C(alpha, 0) = 1
  bool positive = true;
  for (int i = 0; i < kMaxFractionalTerms; ++i) {
    const double di = i, j = alpha - di;
    const double log_s0 = log_coef + di * log_q + j * log_1mq + (di * di - di) / (2 * sigma * sigma) + log_half +
                          LogErfc((di - z0) / scale);
    const double log_s1 =
        log_coef + j * log_q + di * log_1mq + (j * j - j) / (2 * sigma * sigma) + log_half + LogErfc((z0 - j) / scale);
    if (positive) {
      log_a0 = LogAdd(log_a0, log_s0);
      log_a1 = LogAdd(log_a1, log_s1);
    } else {
      if (log_s0 > log_a0 || log_s1 > log_a1) return kInf;
      log_a0 = LogSub(log_a0, log_s0);
      log_a1 = LogSub(log_a1, log_s1);
    }
    if (std::max(log_s0, log_s1) < kNegligibleLogTerm) return LogAdd(log_a0, log_a1);
    // C(alpha, i + 1) = C(alpha, i) (alpha - i) / (i + 1).
    log_coef += std::log(std::abs(j)) - std::log(di + 1);
    if (j < 0) positive = !positive;
  }
  return kInf;
}

// The RDP of one run at order alpha, for 0 < q < 1.
double SampledGaussianRdp(double q, double sigma, double alpha) {
  const double log_a =
      alpha == std::floor(alpha) ? LogAInteger(q, sigma, static_cast<int64_t>(alpha)) : LogAFractional(q, sigma, alpha);
  return log_a / (alpha - 1);
}

double OrderEpsilon(double order, double rdp, double delta, RdpConversion conversion) {
  if (conversion == RdpConversion::kMironov2017) return rdp - std::log(delta) / (order - 1);
  // delta <= sqrt(1 - exp(-KL)) and KL <= the RDP at any order: no loss at all needs be claimed.
  if (delta * delta + std::expm1(-rdp) > 0) return 0;
  // The bound loses precision as the order nears 1, where it is of no use anyway.
  if (order <= 1.01) return kInf;
  return rdp + std::log1p(-1 / order) - std::log(delta * order) / (order - 1);
}

}  // namespace

std::span<const double> DefaultRdpOrders() {
  static const std::vector<double> orders = [] {
    std::vector<double> o;
    // 1 + x / 10.0, as Python computes it, so the integers among them (2.0, 3.0, ...) are exact.
    for (int x = 1; x < 100; ++x) o.push_back(1 + x / 10.0);
    for (int a = 11; a < 64; ++a) o.push_back(a);
    for (double a : {128, 256, 512, 1024}) o.push_back(a);
    return o;
  }();
  return orders;
}

Status CheckDpParameters(double q, double noise_multiplier, int64_t steps) {
  if (!(q >= 0 && q <= 1)) {
    return InvalidArgument("sampling rate " + std::to_string(q) + " is not between 0 and 1");
  }
  if (!(noise_multiplier > 0) || !std::isfinite(noise_multiplier)) {
    return InvalidArgument("noise multiplier " + std::to_string(noise_multiplier) +
                           " is not a positive number (zero noise has no finite privacy guarantee)");
  }
  if (steps < 0) return InvalidArgument("step count " + std::to_string(steps) + " is negative");
  return Status::Ok();
}

Status CheckDelta(double delta) {
  if (!(delta > 0 && delta < 1)) {
    return InvalidArgument("delta " + std::to_string(delta) + " is not strictly between 0 and 1");
  }
  return Status::Ok();
}

std::vector<double> GaussianRdp(double q, double noise_multiplier, int64_t steps, std::span<const double> orders) {
  std::vector<double> rdp(orders.size(), 0.0);
  // Zero runs or empty samples cost nothing, even at an order whose series would not settle.
  if (q == 0 || steps == 0) return rdp;
  const double n = static_cast<double>(steps);
  for (size_t k = 0; k < orders.size(); ++k) {
    const double alpha = orders[k];
    rdp[k] = n * (q == 1 ? alpha / (2 * noise_multiplier * noise_multiplier)
                         : SampledGaussianRdp(q, noise_multiplier, alpha));
  }
  return rdp;
}

DpGuarantee EpsilonFromRdp(std::span<const double> orders, std::span<const double> rdp, double delta,
                           RdpConversion conversion) {
  DpGuarantee best{kInf, delta, orders.empty() ? 0 : orders[0]};
  for (size_t k = 0; k < orders.size() && k < rdp.size(); ++k) {
    const double eps = OrderEpsilon(orders[k], rdp[k], delta, conversion);
    if (eps < best.epsilon) {  // strict: the first of equal orders wins; NaN never does
      best.epsilon = eps;
      best.order = orders[k];
    }
  }
  if (conversion == RdpConversion::kBalle2020) best.epsilon = std::max(0.0, best.epsilon);
  return best;
}

RdpAccountant::RdpAccountant(std::span<const double> orders)
    : orders_(orders.begin(), orders.end()), rdp_(orders.size(), 0.0) {}

Status RdpAccountant::Compose(double q, double noise_multiplier, int64_t steps) {
  FEDRA_RETURN_IF_ERROR(CheckDpParameters(q, noise_multiplier, steps));
  const std::vector<double> run = GaussianRdp(q, noise_multiplier, steps, orders_);
  for (size_t k = 0; k < rdp_.size(); ++k) rdp_[k] += run[k];
  return Status::Ok();
}

Result<DpGuarantee> RdpAccountant::Spent(double delta, RdpConversion conversion) const {
  FEDRA_RETURN_IF_ERROR(CheckDelta(delta));
  return EpsilonFromRdp(orders_, rdp_, delta, conversion);
}

}  // namespace fedra
