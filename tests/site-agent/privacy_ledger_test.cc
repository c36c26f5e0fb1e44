// The site's privacy ledger: it charges releases against a budget, refuses past it, survives a
// reopen (a restarted site), refuses to start afresh from a damaged file, and keys seeds with a
// secret of its own.
#include <doctest/doctest.h>

#include <cmath>

#include "federated/rdp_accountant.h"
#include "site-agent/privacy_ledger.h"
#include "tests/support/temp_dir.h"

namespace fedra {

TEST_CASE("zCDP converts to (epsilon, delta) no worse than Bun and Steinke, as the master's accountant does") {
  // rho = 1/2 is one Gaussian release at noise multiplier 1.
  const double bun_steinke = 0.5 + 2 * std::sqrt(0.5 * std::log(1e6));
  RdpAccountant accountant;
  REQUIRE(accountant.Compose(1, 1, 1).ok());
  Result<DpGuarantee> spent = accountant.Spent(1e-6);
  REQUIRE(spent.ok());
  CHECK(spent->epsilon < bun_steinke);
  CHECK(ZcdpEpsilon(0.5, 1e-6) == doctest::Approx(spent->epsilon).epsilon(1e-12));
  // Eight such releases: rho adds up as the accountant's rounds do.
  REQUIRE(accountant.Compose(1, 1, 7).ok());
  CHECK(ZcdpEpsilon(4, 1e-6) == doctest::Approx(accountant.Spent(1e-6)->epsilon).epsilon(1e-12));
  CHECK(ZcdpEpsilon(0, 1e-6) == 0);
}

TEST_CASE("the ledger charges, refuses past the budget and remembers across a reopen") {
  testing::TempDir dir;
  const auto path = dir / "ledger.json";
  uint64_t seed = 0;
  {
    auto ledger = std::move(PrivacyLedger::Open(path)).value();
    Result<BudgetSpent> first = ledger->Spend("visits", 0.5, 10, 1e-6);
    REQUIRE(first.ok());
    CHECK(first->releases == 1);
    CHECK(first->rho == 0.5);
    // 0.5 + 2.0 would bring epsilon to 12.9 at delta 1e-6, past 10: refused, nothing charged.
    Result<BudgetSpent> refused = ledger->Spend("visits", 2.0, 10, 1e-6);
    CHECK(refused.status().code() == StatusCode::kPermissionDenied);
    CHECK(refused.status().message().find("past its budget") != std::string::npos);
    CHECK(ledger->spent("visits").rho == 0.5);
    CHECK(ledger->Spend("other", 0.25, 10, 1e-6).ok());
    seed = ledger->KeyedSeed("visits", 7);
    CHECK(seed == ledger->KeyedSeed("visits", 7));
    CHECK(seed != ledger->KeyedSeed("visits", 8));
    CHECK(seed != ledger->KeyedSeed("other", 7));
  }
  CHECK((std::filesystem::status(path).permissions() & std::filesystem::perms::others_all) ==
        std::filesystem::perms::none);
  auto reopened = std::move(PrivacyLedger::Open(path)).value();
  CHECK(reopened->spent("visits").rho == 0.5);
  CHECK(reopened->spent("visits").releases == 1);
  CHECK(reopened->spent("other").rho == 0.25);
  CHECK(reopened->KeyedSeed("visits", 7) == seed);
  // Another site's ledger has another secret.
  auto elsewhere = std::move(PrivacyLedger::Open(dir / "other.json")).value();
  CHECK(elsewhere->KeyedSeed("visits", 7) != seed);
}

TEST_CASE("a damaged ledger stops the site instead of forgetting what was spent") {
  testing::TempDir dir;
  testing::WriteFile(dir / "ledger.json", "{\"secret\": \"00\", \"spent\": {}}");
  Status s = PrivacyLedger::Open(dir / "ledger.json").status();
  CHECK(s.code() == StatusCode::kDataLoss);
  CHECK(s.message().find("restore it from a backup") != std::string::npos);
}

}  // namespace fedra
