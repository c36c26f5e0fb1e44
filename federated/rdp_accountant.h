// Rényi differential privacy (RDP) accounting for the Gaussian mechanism run on Poisson samples of
// the rows (DP-SGD steps, sampled training rounds): the RDP of each run at a fixed set of orders,
// summed over runs, and the (epsilon, delta) guarantee the sum implies. It computes what TensorFlow
// Privacy's rdp_accountant.py (compute_rdp, get_privacy_spent) and Opacus compute.
//
// RDP, its composition by addition and the first conversion to (epsilon, delta): Mironov, "Rényi
// Differential Privacy", CSF 2017. The sampled Gaussian mechanism's RDP, log(A_alpha) for integer
// and fractional orders: Mironov, Talwar & Zhang, "Rényi Differential Privacy of the Sampled
// Gaussian Mechanism", arXiv:1908.10530, 2019. The conversion used by default: Canonne, Kamath &
// Steinke, "The Discrete Gaussian for Differential Privacy", 2020, Proposition 12; Balle et al.,
// "Hypothesis Testing Interpretations and Rényi Differential Privacy", AISTATS 2020, Theorem 21.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "common/status.h"

namespace fedra {

// The orders tracked unless a caller names others: those of dp_accounting's RdpAccountant
// (DEFAULT_RDP_ORDERS, which TensorFlow Privacy now delegates to): 1.1, 1.2, ..., 10.9, then 11,
// 12, ..., 63, then 128, 256, 512, 1024. The large orders matter when noise is small.
std::span<const double> DefaultRdpOrders();

// Ok when 0 <= q <= 1, noise_multiplier is finite and > 0, and steps >= 0; otherwise
// kInvalidArgument naming the bad value. GaussianRdp assumes it; RdpAccountant checks it.
Status CheckDpParameters(double q, double noise_multiplier, int64_t steps);

// Ok when 0 < delta < 1; otherwise kInvalidArgument. EpsilonFromRdp assumes it.
Status CheckDelta(double delta);

// The RDP at each of `orders` (each finite and > 1) of `steps` runs of the Gaussian mechanism with
// noise of standard deviation noise_multiplier x sensitivity, each on a Poisson sample of the rows
// at rate q: alpha / (2 z^2) per run when q = 1, 0 when q = 0. +inf at a fractional order whose
// series does not settle, which leaves that order out of epsilon. Requires CheckDpParameters ok.
std::vector<double> GaussianRdp(double q, double noise_multiplier, int64_t steps, std::span<const double> orders);

// How an RDP curve becomes an (epsilon, delta) guarantee.
enum class RdpConversion : uint8_t {
  // eps = rdp + log1p(-1/a) - log(delta a) / (a - 1), or 0 where delta^2 >= 1 - exp(-rdp) (the
  // KL bound), for orders a > 1.01 (Canonne, Kamath & Steinke 2020; Balle et al. 2020). What
  // TensorFlow Privacy reports since December 2020; Opacus uses the same formula since April 2021.
  kBalle2020,
  // eps = rdp + log(1/delta) / (a - 1) (Mironov 2017, Proposition 3): never smaller; what
  // TensorFlow Privacy reported before, kept to compare with figures published then.
  kMironov2017,
};

struct DpGuarantee {
  double epsilon = 0;  // +inf: no order gives a finite epsilon
  double delta = 0;
  double order = 0;  // the order whose bound gave epsilon
};

// The smallest epsilon over `orders` of the RDP curve `rdp` (as many values as orders, at least
// one) at `delta`; ties go to the first order, as numpy's argmin does. Requires CheckDelta ok.
DpGuarantee EpsilonFromRdp(std::span<const double> orders, std::span<const double> rdp, double delta,
                           RdpConversion conversion = RdpConversion::kBalle2020);

// The running RDP curve of a sequence of sampled Gaussian runs: compose each run as it happens,
// ask what has been spent at any time. Composition adds RDP at each order (Mironov 2017).
class RdpAccountant {
 public:
  // Requires each order finite and > 1.
  explicit RdpAccountant(std::span<const double> orders = DefaultRdpOrders());

  // Adds `steps` runs at sampling rate q with noise multiplier z; kInvalidArgument, adding
  // nothing, unless CheckDpParameters(q, z, steps) is ok.
  Status Compose(double q, double noise_multiplier, int64_t steps);

  // The guarantee of everything composed so far (epsilon 0 before any run); kInvalidArgument
  // unless CheckDelta(delta) is ok.
  Result<DpGuarantee> Spent(double delta, RdpConversion conversion = RdpConversion::kBalle2020) const;

  std::span<const double> orders() const { return orders_; }
  std::span<const double> rdp() const { return rdp_; }

 private:
  std::vector<double> orders_;
  std::vector<double> rdp_;  // one per order
};

}  // namespace fedra
