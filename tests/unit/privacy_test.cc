// Privacy levels propagate to derived values, and the release rule refuses what must not leave.
#include <doctest/doctest.h>

#include <vector>

#include "federated/privacy.h"

namespace fedra {

TEST_CASE("privacy level names parse and print") {
  for (auto level : {PrivacyLevel::kPublic, PrivacyLevel::kPrivateAggregate, PrivacyLevel::kPrivate}) {
    CHECK(*ParsePrivacyLevel(PrivacyLevelName(level)) == level);
  }
  CHECK(ParsePrivacyLevel("secret").status().message().find("unknown privacy level 'secret'") != std::string::npos);
}

TEST_CASE("derived values take the most restrictive level and count aggregated rows") {
  const Provenance pub{};
  const Provenance agg{PrivacyLevel::kPrivateAggregate, 0, "housing"};
  const Provenance priv{PrivacyLevel::kPrivate, 0, "patients"};
  const std::vector<uint64_t> rows{100, 100};

  SUBCASE("row-level op on private-aggregate stays row-level") {
    Provenance p = DeriveProvenance(std::vector{agg}, rows, false);
    CHECK(p.level == PrivacyLevel::kPrivateAggregate);
    CHECK(p.aggregated_rows == 0);
    CHECK(CheckRelease(p, 10).code() == StatusCode::kPermissionDenied);
  }
  SUBCASE("aggregating op covers the input's rows") {
    Provenance p = DeriveProvenance(std::vector{agg}, rows, true);
    CHECK(p.aggregated_rows == 100);
    CHECK(CheckRelease(p, 10).ok());
    CHECK(CheckRelease(p, 101).message().find("covers 100 rows, fewer than the site's minimum of 101") !=
          std::string::npos);
  }
  SUBCASE("an aggregate stays an aggregate through row-preserving ops") {
    Provenance a = DeriveProvenance(std::vector{agg}, rows, true);
    Provenance p = DeriveProvenance(std::vector{a, pub}, std::vector<uint64_t>{1, 1}, false);
    CHECK(p.aggregated_rows == 100);
    CHECK(CheckRelease(p, 10).ok());
  }
  SUBCASE("private wins over private-aggregate and is never released") {
    Provenance p = DeriveProvenance(std::vector{agg, priv}, rows, true);
    CHECK(p.level == PrivacyLevel::kPrivate);
    CHECK(p.source.find("patients") != std::string::npos);
    Status s = CheckRelease(p, 1);
    CHECK(s.code() == StatusCode::kPermissionDenied);
    CHECK(s.message().find("is private") != std::string::npos);
  }
  SUBCASE("public inputs do not restrict") {
    Provenance p = DeriveProvenance(std::vector{pub, pub}, rows, false);
    CHECK(p.level == PrivacyLevel::kPublic);
    CHECK(CheckRelease(p, 1000).ok());
  }
}

}  // namespace fedra
