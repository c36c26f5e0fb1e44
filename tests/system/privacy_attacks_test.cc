// A malicious master against a real site: it speaks the wire protocol directly with a valid
// master certificate, sending what fedra's own master library never would, to get single rows
// out of a private-aggregate dataset of 150 rows (minimum 10 rows per aggregate) and values out
// of a private one. Each attack, and its obvious variants, must be refused or yield nothing
// closer to a row than a sum over at least 10 rows; refusals are in the audit trail as refused.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <set>
#include <sstream>

#include "federated/instruction.h"
#include "tests/support/local_federation.h"
#include "tests/support/raw_client.h"
#include "tests/support/raw_request.h"
#include "tests/support/temp_dir.h"

namespace fedra {
namespace {

using testing::LocalFederation;
using testing::MasterSession;
using testing::RawClient;
using testing::TempDir;

constexpr int kPeopleRows = 150;
constexpr int kMinRows = 10;
const std::vector<std::string> kColumns = {"age", "income", "score", "label", "rare"};

// 150 people: distinct ages (the oldest unique), incomes and scores with many digits, labels 0/1,
// and a mark that only three rows carry (a rare condition: a mask that is part of the data).
Matrix People(unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> age(20, 85), income(20000, 90000), score(0, 1);
  Matrix m(kPeopleRows, 5);
  for (int i = 0; i < kPeopleRows; ++i) {
    m(i, 0) = std::round(age(rng) * 1000) / 1000;
    m(i, 1) = std::round(income(rng) * 100) / 100;
    m(i, 2) = std::round(score(rng) * 1e6) / 1e6;
    m(i, 3) = m(i, 2) > 0.5 ? 1 : 0;
    m(i, 4) = i % 50 == 7 ? 1 : 0;
  }
  m(77, 0) = 93.125;  // the oldest
  return m;
}

// Whether `v` (1 x ncol) is, within `tol`, one row of `x` or a multiple of one.
bool NearSomeRow(const Eigen::RowVectorXd& v, const Matrix& x, double tol) {
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    if ((v - x.row(i)).cwiseAbs().maxCoeff() < tol * (1 + x.row(i).cwiseAbs().maxCoeff())) return true;
  }
  return false;
}

struct AttackedSite {
  TempDir dir;
  LocalFederation local{dir.path(), {"a", "b"}};
  Matrix people = People(11);
  std::unique_ptr<MasterSession> wire;  // with site a

  AttackedSite() {
    for (const char* site : {"a", "b"}) {
      local.AddCsvDataset(site, "people", people, kColumns, "private-aggregate");
      local.AddCsvDataset(site, "patients", people, kColumns, "private");
      local.AddCsvDataset(site, "open", people, kColumns, "public");  // the control: attacks work here
    }
    local.StartAll();
    wire = Connect("a");
  }

  std::unique_ptr<MasterSession> Connect(const std::string& site) {
    return std::make_unique<MasterSession>(local.master_tls(), local.port(site));
  }
};

void CheckRefused(const Response& r, const std::string& why) {
  CHECK_MESSAGE(r.status.code() == StatusCode::kPermissionDenied, r.status.ToString());
  CHECK_MESSAGE(r.status.message().find(why) != std::string::npos, r.status.ToString());
  CHECK_FALSE(r.value.has_value());
}

Matrix Unit(int i) {
  Matrix e = Matrix::Zero(kPeopleRows, 1);
  e(i, 0) = 1;
  return e;
}

}  // namespace

TEST_CASE("attack 1: a master-made unit vector or identity does not pick rows") {
  AttackedSite s;
  const VarId x = s.wire->Read("people");
  const VarId e = s.wire->Put(Unit(7));
  const VarId id = s.wire->Put(Matrix::Identity(kPeopleRows, kPeopleRows));
  const std::string aligned = "row-aligned values from the master";
  CheckRefused(s.wire->One(Request::Run(0, Op::kTmatmul, {x, e}, true)), aligned);
  CheckRefused(s.wire->One(Request::Run(0, Op::kTmatmul, {x, id}, true)), aligned);
  CheckRefused(s.wire->One(Request::Run(0, Op::kTmatmul, {id, x}, true)), aligned);
  // The same vector as weights, labels or a mask of a site function.
  const VarId v = s.wire->Put(Matrix::Ones(4, 1));
  CheckRefused(s.wire->One(Request::Run(0, Op::kTXwXv, {x, e, v}, true)), aligned);
  CheckRefused(s.wire->One(RawCall(0, "logisticStats", {x, e, s.wire->Put(Matrix::Zero(5, 1))}, {{"return", true}})),
               aligned);
  // As a row vector mixing the rows: protected rows cannot stand where a broadcast goes.
  CheckRefused(s.wire->One(Request::Run(0, Op::kMatmul, {s.wire->Put(Matrix(Unit(7).transpose())), x}, true)),
               "row by row");
}

TEST_CASE("attack 2: weights and masks from the master are refused before any sum") {
  AttackedSite s;
  const VarId x = s.wire->Read("people", {"age", "income", "score", "label"});
  const std::string aligned = "row-aligned values from the master";
  CheckRefused(s.wire->One(Request::Run(s.wire->NewId(), Op::kMul, {x, s.wire->Put(Unit(7))})), aligned);
  CheckRefused(s.wire->One(Request::Run(s.wire->NewId(), Op::kAdd, {x, s.wire->Put(Matrix(1e6 * Unit(7)))})), aligned);
  Matrix mask = Matrix::Zero(kPeopleRows, 4);
  mask.row(7).setOnes();
  CheckRefused(s.wire->One(Request::Run(s.wire->NewId(), Op::kMul, {x, s.wire->Put(mask)})), aligned);
  CheckRefused(s.wire->One(Request::Run(s.wire->NewId(), Op::kMul, {s.wire->Put(mask), x})), aligned);
  // Broadcast scalars and row vectors act on every row alike and stay allowed.
  const VarId scaled = s.wire->NewId();
  REQUIRE(s.wire->One(Request::Run(scaled, Op::kMul, {x, s.wire->Put(Matrix{{2, 1, 1, 1}})})).status.ok());
  Response sums = s.wire->One(Request::Run(0, Op::kColSums, {scaled}, true));
  REQUIRE_MESSAGE(sums.status.ok(), sums.status.ToString());
  CHECK((*sums.value)(0, 0) == doctest::Approx(2 * s.people.col(0).sum()));
}

TEST_CASE("attack 3: splits chosen by seed and fraction leave no row in a difference") {
  AttackedSite s;
  const VarId x = s.wire->Read("people", {"age", "income", "score"});
  Response all = s.wire->One(Request::Run(0, Op::kColSums, {x}, true));
  REQUIRE(all.status.ok());
  const Matrix people = s.people.leftCols(3);
  int allowed = 0, refused = 0;
  for (double fraction : {1.0 / kPeopleRows, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.9, 0.99}) {
    for (uint64_t seed = 1; seed <= 25; ++seed) {
      CAPTURE(fraction);
      CAPTURE(seed);
      const VarId train = s.wire->NewId();
      Response split = s.wire->One(
          Request::Run(train, {Op::kSplitRows, {{"fraction", fraction}, {"seed", seed}, {"held_out", false}}}, {x}));
      if (!split.status.ok()) {
        CheckRefused(split, "fewer rows than the site's minimum of 10");
        ++refused;
        continue;
      }
      ++allowed;
      const int kept = split.meta["rows"].get<int>();
      CHECK(kept >= kMinRows);
      CHECK(kPeopleRows - kept >= kMinRows);
      Response part = s.wire->One(Request::Run(0, Op::kColSums, {train}, true));
      REQUIRE(part.status.ok());
      const Eigen::RowVectorXd difference = *all.value - *part.value;
      CHECK_FALSE(NearSomeRow(difference, people, 1e-6));
      // A split of the split is a union of whole cells too.
      const VarId nested = s.wire->NewId();
      Response inner = s.wire->One(
          Request::Run(nested, {Op::kSplitRows, {{"fraction", 0.5}, {"seed", seed}, {"held_out", true}}}, {train}));
      if (inner.status.ok()) {
        Response nested_sums = s.wire->One(Request::Run(0, Op::kColSums, {nested}, true));
        REQUIRE(nested_sums.status.ok());
        CHECK_FALSE(NearSomeRow(*nested_sums.value, people, 1e-6));
        CHECK_FALSE(NearSomeRow(*part.value - *nested_sums.value, people, 1e-6));
      } else {
        CheckRefused(inner, "fewer rows than the site's minimum of 10");
      }
      (void)s.wire->One(Request::Release({train, nested}));
    }
  }
  CHECK(allowed > 50);
  CHECK(refused > 20);  // every split holding out fewer than 10 rows

  // The control: on public data the same requests hold out single rows, and give them back.
  const VarId open = s.wire->Read("open", {"age", "income", "score"});
  Response open_all = s.wire->One(Request::Run(0, Op::kColSums, {open}, true));
  bool leaked = false;
  for (uint64_t seed = 1; seed <= 200 && !leaked; ++seed) {
    const VarId train = s.wire->NewId();
    Response split = s.wire->One(Request::Run(train, {Op::kSplitRows, {{"fraction", 0.005}, {"seed", seed}}}, {open}));
    REQUIRE(split.status.ok());
    if (split.meta["rows"] == kPeopleRows - 1) {
      Response part = s.wire->One(Request::Run(0, Op::kColSums, {train}, true));
      leaked = NearSomeRow(*open_all.value - *part.value, people, 1e-9);
    }
  }
  CHECK(leaked);
}

TEST_CASE("attack 3: the site keys splits with its own secret") {
  AttackedSite s;  // sites a and b hold the same rows, so they group them into the same cells
  auto b = s.Connect("b");
  std::vector<MasterSession*> sites = {s.wire.get(), b.get()};
  std::vector<VarId> data;
  for (MasterSession* site : sites) data.push_back(site->Read("people", {"age", "income", "score"}));
  // Same data, same seeds, different cells held out: the master cannot aim a split. (About ten
  // cells, each held out with probability 0.3 at each site: a seed may pick the same ones.)
  int differ = 0;
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    std::vector<Matrix> held_out;
    for (size_t i = 0; i < 2; ++i) {
      const VarId part = sites[i]->NewId();
      std::vector<Response> r = sites[i]->Send(
          {Request::Run(part, {Op::kSplitRows, {{"fraction", 0.3}, {"seed", seed}, {"held_out", true}}}, {data[i]}),
           Request::Run(0, Op::kColSums, {part}, true)});
      held_out.push_back(r[1].status.ok() ? *r[1].value : Matrix());
    }
    differ += held_out[0].size() != held_out[1].size() || held_out[0] != held_out[1];  // one side may be refused
  }
  CHECK(differ >= 4);
}

TEST_CASE("attack 4: no order statistic, comparison, nonlinear map or product of protected rows") {
  AttackedSite s;
  const VarId x = s.wire->Read("people");
  const VarId age = s.wire->Read("people", {"age"});
  const std::string rows = "is not allowed on its rows";
  CheckRefused(s.wire->One(Request::Run(0, Op::kColMaxs, {x}, true)), "order statistic");
  CheckRefused(s.wire->One(Request::Run(0, Op::kColMins, {x}, true)), "order statistic");
  CheckRefused(s.wire->One(Request::Run(s.wire->NewId(), Op::kRowMaxs, {x})), "order statistic");
  const VarId threshold = s.wire->Put(Matrix::Constant(1, 1, 93));
  for (Op op : {Op::kGe, Op::kGt, Op::kEq, Op::kLt}) {
    CheckRefused(s.wire->One(Request::Run(s.wire->NewId(), op, {age, threshold})), "comparison");
  }
  for (Op op : {Op::kExp, Op::kSigmoid, Op::kRound, Op::kAbs, Op::kLog, Op::kSqrt}) {
    CheckRefused(s.wire->One(Request::Run(s.wire->NewId(), op, {age})), rows);
  }
  CheckRefused(s.wire->One(Request::Run(s.wire->NewId(), Op::kRowSumSq, {x})), rows);
  // Shifted by the master, then multiplied with itself or the data: refused as a product.
  const VarId shifted = s.wire->NewId();
  REQUIRE(s.wire->One(Request::Run(shifted, Op::kSub, {age, threshold})).status.ok());
  CheckRefused(s.wire->One(Request::Run(s.wire->NewId(), Op::kMul, {shifted, shifted})),
               "products of row-level values");
  CheckRefused(s.wire->One(Request::Run(s.wire->NewId(), Op::kMul, {x, age})), "products of row-level values");
  CheckRefused(s.wire->One(Request::Run(s.wire->NewId(), {Op::kDiv, ReversedParams()}, {age, threshold})),
               "right operand");
}

struct Side {
  Eigen::Index centre;  // 0: the side above t, 1: below
  double count;
  Eigen::RowVectorXd sum;
};

// kmeansStep with two centres mirrored across the plane age = t, for t between every two
// neighbouring ages: each row goes to the side of t it lies on.
std::vector<Side> SweepThresholds(AttackedSite& s, const std::string& dataset) {
  const VarId x = s.wire->Read(dataset, {"age", "income", "score"});
  std::vector<double> ages(s.people.col(0).data(), s.people.col(0).data() + kPeopleRows);
  std::sort(ages.begin(), ages.end());
  std::vector<Side> seen;
  for (size_t i = 0; i + 1 < ages.size(); ++i) {
    const double t = (ages[i] + ages[i + 1]) / 2;
    const Matrix centres{{t + 1000, 55000, 0.5}, {t - 1000, 55000, 0.5}};
    Response r = s.wire->One(RawCall(0, "kmeansStep", {x, s.wire->Put(centres)}, {{"k", 2}, {"return", true}}));
    if (!r.status.ok()) {
      CheckRefused(r, "fewer rows than the site's minimum");
      continue;
    }
    for (Eigen::Index c = 0; c < 2; ++c) seen.push_back({c, (*r.value)(c, 3), r.value->row(c).head(3)});
  }
  return seen;
}

TEST_CASE("attack 4: a rare mark in the data is no mask either, however it is shifted") {
  AttackedSite s;
  const VarId x = s.wire->Read("people", {"age", "income", "score"});
  const VarId rare = s.wire->Read("people", {"rare"});
  const VarId unmarked = s.wire->NewId();  // 1 - rare
  REQUIRE(
      s.wire->One(Request::Run(unmarked, {Op::kSub, ReversedParams()}, {rare, s.wire->Put(Matrix::Constant(1, 1, 1))}))
          .status.ok());
  // t(X) %*% rare sums the three marked rows; colSums(X) - t(X) %*% (1 - rare) does too.
  const std::string few = "fewer rows than the site's minimum of 10";
  CheckRefused(s.wire->One(Request::Run(0, Op::kTmatmul, {x, rare}, true)), few);
  CheckRefused(s.wire->One(Request::Run(0, Op::kTmatmul, {x, unmarked}, true)), few);
  CheckRefused(s.wire->One(Request::Run(0, Op::kColSums, {rare}, true)), few);
  CheckRefused(s.wire->One(Request::Run(0, Op::kTsmm, {s.wire->Read("people", {"age", "rare"})}, true)), few);
  // As logistic labels: at zero coefficients the gradient is colSums(X) / 2 - t(X) %*% rare.
  CheckRefused(s.wire->One(RawCall(0, "logisticStats", {x, rare, s.wire->Put(Matrix::Zero(4, 1))}, {{"return", true}})),
               few);
  // The common columns still add up.
  Response sums = s.wire->One(Request::Run(0, Op::kColSums, {x}, true));
  REQUIRE(sums.status.ok());
  CHECK((*sums.value)(0, 1) == doctest::Approx(s.people.col(1).sum()));
}

TEST_CASE("attack 5: k-means centres on a moving hyperplane only ever move whole cells") {
  AttackedSite s;
  const Matrix people = s.people.leftCols(3);
  const std::vector<Side> seen = SweepThresholds(s, "people");
  REQUIRE(seen.size() > 20);
  for (const Side& side : seen) CHECK((side.count == 0 || side.count >= kMinRows));
  // The rows above one threshold include those above a higher one: with rows, two neighbouring
  // thresholds would differ by the single row between them. Here they differ by whole cells.
  for (size_t i = 0; i < seen.size(); ++i) {
    for (size_t j = 0; j < seen.size(); ++j) {
      const double d = seen[i].count - seen[j].count;
      if (seen[i].centre != seen[j].centre || d <= 0) continue;
      CHECK(d >= kMinRows);
      CHECK_FALSE(NearSomeRow((seen[i].sum - seen[j].sum) / d, people, 1e-6));
    }
  }
  // The control: on public data neighbouring thresholds differ by one row, which is given back.
  const std::vector<Side> open = SweepThresholds(s, "open");
  bool leaked = false;
  for (size_t i = 0; i + 2 < open.size(); i += 2) {
    if (open[i].count == open[i + 2].count + 1) leaked |= NearSomeRow(open[i].sum - open[i + 2].sum, people, 1e-9);
  }
  CHECK(leaked);

  // The logistic variant: coefficients scaled until the step is sharp are refused.
  const VarId x = s.wire->Read("people", {"age", "income", "score"});
  const VarId labels = s.wire->Read("people", {"label"});
  Matrix w(4, 1);
  w << -1e6 * 93, 1e6, 0, 0;  // intercept, then age: decides every row with certainty
  Response sharp = s.wire->One(RawCall(0, "logisticStats", {x, labels, s.wire->Put(w)}, {{"return", true}}));
  CheckRefused(sharp, "decide nearly every row");
  Response soft =
      s.wire->One(RawCall(0, "logisticStats", {x, labels, s.wire->Put(Matrix::Zero(4, 1))}, {{"return", true}}));
  CHECK_MESSAGE(soft.status.ok(), soft.status.ToString());
}

TEST_CASE("attack 6: errors and audit lines about protected data carry no values and no paths") {
  AttackedSite s;
  testing::WriteFile(s.local.kit("a") / "broken.csv", "age,income\n41.5,52000\n47.25,secret-income-9931\n");
  s.local.AddDataset("a", "broken", "broken.csv", "private");
  s.local.AddDataset("a", "gone", "missing.csv", "private-aggregate");
  CHECK(s.local.Stop("a") == 0);
  s.local.Start("a");
  s.wire = s.Connect("a");
  const std::string folder = s.local.kit("a").string();
  // Every value of the data, as the site might print it.
  std::set<std::string> values;
  for (Eigen::Index i = 0; i < s.people.size(); ++i) {
    const double v = s.people.data()[i];
    if (v == 0 || v == 1) continue;  // class codes
    values.insert(std::to_string(v));
    std::ostringstream shortest;
    shortest << v;
    if (shortest.str().size() > 2) values.insert(shortest.str());
  }
  auto check_clean = [&](const std::string& text) {
    CAPTURE(text);
    CHECK(text.find(folder) == std::string::npos);
    CHECK(text.find("secret-income") == std::string::npos);
    for (const std::string& v : values) CHECK_MESSAGE(text.find(v) == std::string::npos, v);
  };

  // Private data: nothing is computed from it, so nothing can fail on its values.
  const VarId secret = s.wire->Read("patients", {"income", "score"});
  CheckRefused(s.wire->One(RawCall(0, "logisticStats",
                                   {secret, s.wire->Read("patients", {"age"}), s.wire->Put(Matrix::Zero(3, 1))},
                                   {{"return", true}})),
               "nothing is computed from private data");
  // Private-aggregate data: checks of labels say what is wrong, never where or which value.
  const VarId x = s.wire->Read("people", {"income", "score"});
  for (const char* column : {"age", "income", "score"}) {
    const VarId label = s.wire->Read("people", {column});
    Response r =
        s.wire->One(RawCall(0, "logisticStats", {x, label, s.wire->Put(Matrix::Zero(3, 1))}, {{"return", true}}));
    CHECK(r.status.code() == StatusCode::kInvalidArgument);
    CHECK(r.status.message().find("not class codes") != std::string::npos);
    check_clean(r.status.message());
    Response t = s.wire->One(
        RawCall(0, "trainLocal", {x, label, s.wire->Put(Matrix::Zero(6, 1))},
                {{"model", {{"inputs", 2}, {"outputs", 2}, {"hidden", nlohmann::json::array()}}}, {"return", true}}));
    CHECK_FALSE(t.status.ok());
    check_clean(t.status.message());
  }
  // A shifted column as labels would turn that check into a search for a row's value: refused.
  const VarId shifted = s.wire->NewId();
  REQUIRE(s.wire
              ->One(Request::Run(shifted, Op::kSub,
                                 {s.wire->Read("people", {"label"}), s.wire->Put(Matrix::Constant(1, 1, 1))}))
              .status.ok());
  CheckRefused(
      s.wire->One(RawCall(0, "logisticStats", {x, shifted, s.wire->Put(Matrix::Zero(3, 1))}, {{"return", true}})),
      "must be a column as read");
  CheckRefused(s.wire->One(RawCall(0, "classCounts", {shifted}, {{"return", true}})), "must be a column as read");
  Response broken = s.wire->One(Request::Read(s.wire->NewId(), "broken"));
  CHECK(broken.status.code() == StatusCode::kDataLoss);
  CHECK(broken.status.message().find("a cell that is not a number") != std::string::npos);
  check_clean(broken.status.message());
  Response gone = s.wire->One(Request::Read(s.wire->NewId(), "gone"));
  CHECK(gone.status.code() == StatusCode::kNotFound);
  CHECK(gone.status.message().find("missing.csv") != std::string::npos);
  check_clean(gone.status.message());
  Response catalog = s.wire->One(Request::ListCatalog());
  check_clean(catalog.meta.dump());

  // The audit trail: failures logged as failed with what was asked, refusals as refused; no data.
  CheckRefused(s.wire->One(Request::Run(0, Op::kColSums, {secret}, true)), "is private");
  std::vector<nlohmann::json> audit = s.local.audit_events("a");
  int failed = 0, refused = 0;
  for (nlohmann::json line : audit) {
    line.erase("time");  // a timestamp's digits could match a value by chance
    check_clean(line.dump());
    if (line["outcome"] == "failed") {
      ++failed;
      CHECK(line["allowed"] == true);
      CHECK(line.contains("reason"));
    }
    if (line["outcome"] == "refused") {
      ++refused;
      CHECK(line["allowed"] == false);
    }
  }
  CHECK(failed >= 5);   // three label checks, the broken and the missing file
  CHECK(refused >= 7);  // the private dataset, three training steps, shifted labels

  // A master reads back its own requests from the trail, not a refused stranger's.
  RawClient stranger(TlsFiles{{}, {}, s.local.master_kit() / "ca.crt"}, s.local.port("a"), std::chrono::seconds(5));
  (void)stranger.Connect();
  Response tail = s.wire->One(Request::Audit(10000));
  REQUIRE(tail.status.ok());
  REQUIRE_FALSE(tail.meta["events"].empty());
  for (const auto& event : tail.meta["events"]) CHECK(event["peer"] == "master 'm'");
}

VarId rare_only(AttackedSite& s) { return s.wire->Read("people", {"rare"}); }

TEST_CASE("what the reviews of the rules found: no compression, counts or mixed sums that single out rows") {
  AttackedSite s;
  const VarId x = s.wire->Read("people", {"age", "income", "score"});
  const VarId age = s.wire->Read("people", {"age"});
  // Top-k compression of a column keeps its largest entry: refused on protected rows.
  CheckRefused(s.wire->One(RawCall(s.wire->NewId(), "packUpdate", {age}, {{"compression", {{"topk", 1e-9}}}})),
               "order statistic");
  // Labels made by arithmetic (all zeros: every count a count of rows below the step) are refused.
  const VarId zeros = s.wire->NewId();
  REQUIRE(s.wire
              ->One(Request::Run(zeros, Op::kMul,
                                 {s.wire->Read("people", {"label"}), s.wire->Put(Matrix::Constant(1, 1, 0))}))
              .status.ok());
  CheckRefused(
      s.wire->One(RawCall(0, "logisticStats", {x, zeros, s.wire->Put(Matrix::Zero(4, 1))}, {{"return", true}})),
      "must be a column as read");
  // Correct predictions of a step the master moves would move one row at a time: withheld.
  Matrix w(4, 1);
  w << 1e-6 * 60, -1e-6, 0, 0;  // score > 0 below age 60; every row stays undecided
  Response step = s.wire->One(
      RawCall(0, "logisticStats", {x, s.wire->Read("people", {"label"}), s.wire->Put(w)}, {{"return", true}}));
  REQUIRE_MESSAGE(step.status.ok(), step.status.ToString());
  CHECK(std::isnan((*step.value)(5, 0)));
  // A sum over all columns, or over columns mixed together, is a sum over the rare column too.
  const VarId with_rare = s.wire->Read("people", {"age", "rare"});
  const std::string few = "fewer rows than the site's minimum of 10";
  CheckRefused(s.wire->One(Request::Run(0, Op::kSum, {with_rare}, true)), few);
  const VarId mixed = s.wire->NewId();
  REQUIRE(s.wire->One(Request::Run(mixed, Op::kRowSums, {with_rare})).status.ok());
  CheckRefused(s.wire->One(Request::Run(0, Op::kColSums, {mixed}, true)), "mix several of its columns");
  const VarId combined = s.wire->NewId();
  REQUIRE(s.wire->One(Request::Run(combined, Op::kMatmul, {with_rare, s.wire->Put(Matrix{{1}, {1e-9}})})).status.ok());
  CheckRefused(s.wire->One(Request::Run(0, Op::kTsmm, {combined}, true)), "mix several of its columns");
  // Class counts leave out classes too rare to show, and then the next smallest, since the row
  // count minus the others would give the rare one away: of a 147 / 3 column, nothing shows.
  Response classes = s.wire->One(RawCall(0, "classCounts", {s.wire->Read("people", {"rare"})}, {{"return", true}}));
  REQUIRE_MESSAGE(classes.status.ok(), classes.status.ToString());
  CHECK(classes.value->cols() == 0);
  Response labels = s.wire->One(RawCall(0, "classCounts", {s.wire->Read("people", {"label"})}, {{"return", true}}));
  REQUIRE(labels.status.ok());
  CHECK(labels.value->sum() == kPeopleRows);

  // k-means of a rare column: one centre's sums are that column's total, the three rows' sum.
  CheckRefused(s.wire->One(RawCall(0, "kmeansStep", {rare_only(s), s.wire->Put(Matrix::Zero(1, 1))},
                                   {{"k", 1}, {"return", true}})),
               few);
  CheckRefused(s.wire->One(RawCall(0, "kmeansSeeds", {rare_only(s)}, {{"m", 1}, {"return", true}})), few);
  // Logistic statistics of zeroed features: the intercept's gradient counts the rare label's rows.
  const VarId nothing = s.wire->NewId();
  REQUIRE(s.wire->One(Request::Run(nothing, Op::kMul, {x, s.wire->Put(Matrix::Constant(1, 1, 0))})).status.ok());
  CheckRefused(s.wire->One(RawCall(0, "logisticStats",
                                   {nothing, s.wire->Read("people", {"rare"}), s.wire->Put(Matrix::Zero(4, 1))},
                                   {{"return", true}})),
               few);
  // Training steps over batches the master sizes (n, then n - 1) would difference into a row:
  // refused unless the data owner allows training on the dataset.
  Response train = s.wire->One(
      RawCall(0, "trainLocal", {x, s.wire->Read("people", {"label"}), s.wire->Put(Matrix::Zero(8, 1))},
              {{"model", {{"hidden", nlohmann::json::array()}}}, {"batch_size", kPeopleRows}, {"return", true}}));
  CheckRefused(train, "allow_training");
}

}  // namespace fedra
