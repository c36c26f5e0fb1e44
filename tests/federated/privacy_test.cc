// Privacy levels propagate to derived values; what an operation may do with protected rows follows
// the one table of operations; the release rule refuses what must not leave.
#include <doctest/doctest.h>

#include <vector>

#include "federated/operations.h"
#include "federated/privacy.h"

namespace fedra {
namespace {

Provenance Rows(PrivacyLevel level, const std::string& dataset) {
  Provenance p;
  p.level = level;
  p.source = dataset;
  p.rows = RowSet{dataset, nullptr};
  return p;
}

Provenance Aggregate(PrivacyLevel level, const std::string& dataset, uint64_t support) {
  Provenance p;
  p.level = level;
  p.source = dataset;
  p.aggregate = true;
  p.support = support;
  return p;
}

const OperationPrivacy& Rule(const char* name) {
  const OperationInfo* op = FindOperation(name);
  REQUIRE(op != nullptr);
  return op->privacy;
}

Status Check(const char* name, std::vector<InputView> inputs, bool reversed = false) {
  return CheckProtectedInputs(name, Rule(name), inputs, reversed);
}

const Provenance kMaster{};  // a put: public, rows from the master
const Provenance kAgg = Rows(PrivacyLevel::kPrivateAggregate, "housing");
const Provenance kDp = Rows(PrivacyLevel::kDpAggregate, "clinic");
const Provenance kPublic = Rows(PrivacyLevel::kPublic, "open");

}  // namespace

TEST_CASE("privacy level names parse and print") {
  for (auto level :
       {PrivacyLevel::kPublic, PrivacyLevel::kPrivateAggregate, PrivacyLevel::kDpAggregate, PrivacyLevel::kPrivate}) {
    CHECK(*ParsePrivacyLevel(PrivacyLevelName(level)) == level);
  }
  CHECK(ParsePrivacyLevel("secret").status().message().find("unknown privacy level 'secret'") != std::string::npos);
}

TEST_CASE("row-level values stay row-level, aggregates release by their support") {
  SUBCASE("a row-level op on private-aggregate rows stays row-level and is refused") {
    Provenance p = *DeriveProvenance(Rule("mul"), std::vector<InputView>{{&kAgg, 100}, {&kMaster, 1}});
    CHECK(p.level == PrivacyLevel::kPrivateAggregate);
    CHECK_FALSE(p.aggregate);
    CHECK(p.rows.SameRows(kAgg.rows));
    CHECK(CheckRelease(p, 10).message().find("row-level values may not leave") != std::string::npos);
  }
  SUBCASE("an aggregate is released by the support the site measured") {
    Provenance p = *DeriveProvenance(Rule("colSums"), std::vector<InputView>{{&kAgg, 100}});
    CHECK(p.aggregate);
    p.support = 100;
    CHECK(CheckRelease(p, 10).ok());
    p.support = 3;
    const std::string refused = CheckRelease(p, 10).message();
    CHECK(refused.find("sum fewer rows than the site's minimum of 10") != std::string::npos);
    CHECK(refused.find('3') == std::string::npos);  // the count is data too
  }
  SUBCASE("row-level ops on aggregates keep them aggregates of the same support") {
    const Provenance sums = Aggregate(PrivacyLevel::kPrivateAggregate, "housing", 40);
    Provenance p = *DeriveProvenance(Rule("exp"), std::vector<InputView>{{&sums, 1}});
    CHECK(p.aggregate);
    CHECK(p.support == 40);
  }
  SUBCASE("private wins and is never released") {
    const Provenance priv = Rows(PrivacyLevel::kPrivate, "patients");
    Provenance p = *DeriveProvenance(Rule("tmatmul"), std::vector<InputView>{{&priv, 100}, {&priv, 100}});
    CHECK(p.level == PrivacyLevel::kPrivate);
    CHECK(CheckRelease(p, 1).message().find("is private") != std::string::npos);
  }
  SUBCASE("dp-aggregate releases only noised aggregates") {
    Provenance p = *DeriveProvenance(Rule("colSums"), std::vector<InputView>{{&kDp, 100}});
    CHECK(CheckRelease(p, 1).message().find("calibrated noise") != std::string::npos);
    p.noised = true;
    CHECK(CheckRelease(p, 1000).ok());
    // What follows from noised aggregates alone stays releasable.
    Provenance scaled = *DeriveProvenance(Rule("mul"), std::vector<InputView>{{&p, 1}, {&kMaster, 1}});
    CHECK(scaled.noised);
  }
  SUBCASE("private-aggregate and dp-aggregate rules cannot meet in one result") {
    const Provenance noised = [] {
      Provenance p = Aggregate(PrivacyLevel::kDpAggregate, "clinic", 0);
      p.noised = true;
      return p;
    }();
    const Provenance small = Aggregate(PrivacyLevel::kPrivateAggregate, "housing", 3);
    Status s = DeriveProvenance(Rule("add"), std::vector<InputView>{{&small, 1}, {&noised, 1}}).status();
    CHECK(s.code() == StatusCode::kPermissionDenied);
  }
  SUBCASE("public inputs do not restrict") {
    Provenance p = *DeriveProvenance(Rule("tsmm"), std::vector<InputView>{{&kPublic, 100}});
    CHECK(p.level == PrivacyLevel::kPublic);
    CHECK(CheckRelease(p, 1000).ok());
  }
}

TEST_CASE("protected rows combine only with broadcast values and their own rows") {
  for (const Provenance* level : {&kAgg, &kDp}) {
    CAPTURE(PrivacyLevelName(level->level));
    // Broadcast scalars and row vectors, and the same rows: allowed.
    CHECK(Check("mul", {{level, 150}, {&kMaster, 1}}).ok());
    CHECK(Check("sub", {{level, 150}, {&kMaster, 1}}, /*reversed=*/true).ok());
    CHECK(Check("tmatmul", {{level, 150}, {level, 150}}).ok());
    CHECK(Check("add", {{level, 150}, {level, 150}}).ok());
    CHECK(Check("matmul", {{level, 150}, {&kMaster, 4}}).ok());
    // A row-aligned value from the master, on either side: refused.
    for (const char* op : {"tmatmul", "add", "mul"}) {
      CAPTURE(op);
      Status s = Check(op, {{level, 150}, {&kMaster, 150}});
      CHECK(s.code() == StatusCode::kPermissionDenied);
      CHECK(s.message().find("row-aligned values from the master") != std::string::npos);
      CHECK(Check(op, {{&kMaster, 150}, {level, 150}}).code() == StatusCode::kPermissionDenied);
    }
    // Protected rows where a broadcast goes (mixed by the master's coefficients): refused.
    CHECK(Check("matmul", {{&kMaster, 1}, {level, 150}}).message().find("row by row") != std::string::npos);
    // Rows of another dataset, or another split of the same: refused.
    CHECK(Check("tmatmul", {{level, 150}, {&kPublic, 150}}).message().find("not the same rows") != std::string::npos);
    Provenance split = *level;
    split.rows.positions = std::make_shared<std::vector<uint32_t>>(150, 0);
    CHECK(Check("add", {{level, 150}, {&split, 150}}).code() == StatusCode::kPermissionDenied);
    // Products of two row-level values, and b / X: refused.
    CHECK(Check("mul", {{level, 150}, {level, 150}}).message().find("products of row-level values") !=
          std::string::npos);
    CHECK(Check("div", {{level, 150}, {&kMaster, 1}}, /*reversed=*/true).code() == StatusCode::kPermissionDenied);
    // Masks, nonlinear maps and order statistics: refused on rows, fine on aggregates and public data.
    for (const char* op : {"ge", "eq", "round", "exp", "sigmoid", "abs", "colMaxs", "colMins", "rowMaxs", "rowSumSq"}) {
      CAPTURE(op);
      const int arity = FindOperation(op)->arity;
      std::vector<InputView> inputs{{level, 150}};
      if (arity == 2) inputs.push_back({&kMaster, 1});
      Status s = Check(op, inputs);
      CHECK(s.code() == StatusCode::kPermissionDenied);
      CHECK(s.message().find("is not allowed on its rows") != std::string::npos);
      const Provenance sums = Aggregate(level->level, level->source, 100);
      inputs[0] = {&sums, 1};
      CHECK(Check(op, inputs).ok());
      inputs[0] = {&kPublic, 150};
      CHECK(Check(op, inputs).ok());
    }
  }
}

TEST_CASE("every operation declares its privacy behaviour") {
  for (const OperationInfo& op : Operations()) {
    CAPTURE(op.name);
    if (op.privacy.on_protected != OnProtectedRows::kAllowed) CHECK_FALSE(op.privacy.risk.empty());
    if (op.privacy.dp != DpForm::kNone) CHECK(op.privacy.effect == RowEffect::kAggregates);
  }
}

}  // namespace fedra
