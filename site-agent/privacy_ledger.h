// The site's own record of what each dp-aggregate dataset has spent of its privacy budget, and the
// secret that keys the site's choices of rows. Kept in one file (mode 0600) that is rewritten
// atomically before any noised value leaves, so a crash or restart never forgets a release.
// The site never trusts the master's arithmetic: it charges every release itself.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/status.h"

namespace fedra {

// Budget spent by one dataset: zero-concentrated DP (zCDP) composes by adding rho.
struct BudgetSpent {
  double rho = 0;
  uint64_t releases = 0;
};

// The (epsilon, delta)-DP guarantee implied by rho-zCDP: the better of rho + 2 sqrt(rho ln(1/delta))
// (Bun & Steinke 2016, Proposition 1.3) and the conversion of its RDP curve alpha x rho that the
// master's accountant uses (federated/rdp_accountant.h), so that both report the same epsilon
// for Gaussian noise on every round.
double ZcdpEpsilon(double rho, double delta);

class PrivacyLedger {
 public:
  // Opens the ledger at `path`, creating it with a fresh site secret when absent. A ledger that
  // cannot be read is an error, not a fresh start: the budget already spent would be lost.
  static Result<std::unique_ptr<PrivacyLedger>> Open(const std::filesystem::path& path);

  // Charges one release costing `rho` to `dataset` if its total then stays within `epsilon` at
  // `delta`, and writes the ledger before returning. kPermissionDenied, charging nothing, when it
  // would not; kUnavailable when the ledger cannot be written (nothing may leave then either).
  Result<BudgetSpent> Spend(const std::string& dataset, double rho, double epsilon, double delta);
  BudgetSpent spent(const std::string& dataset) const;

  // A seed for `dataset` from the master's `seed` and this site's secret (HMAC-SHA256): the
  // same for the same seed, unpredictable to anyone without the secret.
  uint64_t KeyedSeed(const std::string& dataset, uint64_t seed) const;

 private:
  explicit PrivacyLedger(std::filesystem::path path) : path_(std::move(path)) {}
  Status WriteLocked() const;

  const std::filesystem::path path_;
  std::array<unsigned char, 32> secret_{};  // constant after Open
  mutable std::mutex mu_;
  std::map<std::string, BudgetSpent> spent_;  // guarded by mu_
};

}  // namespace fedra
