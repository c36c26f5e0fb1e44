// A site that restarts loses its variables; the master sees its new incarnation and makes its
// part of every live federated matrix again from the recipe it was made by (read, split, column
// selection, an operation with a broadcast value), then takes the step it was taking.
#include <doctest/doctest.h>

#include "master/tensor/federated_ops.h"
#include "tests/support/federated_data.h"
#include "tests/support/in_process_federation.h"
#include "tests/support/temp_dir.h"

namespace fedra {
namespace {

using testing::InProcessSites;
using testing::TempDir;

// `rows` rows of three numbered columns, different at every site.
std::string RestartCsv(int rows, int offset) {
  std::string csv = "u,v,w\n";
  for (int i = 0; i < rows; ++i) {
    const int k = i + offset;
    csv += std::to_string(k) + "," + std::to_string(k % 7) + "," + std::to_string(k * k % 11) + "\n";
  }
  return csv;
}

struct RestartSites {
  TempDir dir;
  InProcessSites local{dir.path(), {"a", "b"}};

  RestartSites() {
    testing::WriteFile(local.kit("a") / "d.csv", RestartCsv(30, 0));
    testing::WriteFile(local.kit("b") / "d.csv", RestartCsv(40, 100));
    for (const char* site : {"a", "b"}) local.AddDataset(site, "d", "d.csv", "public");
    local.StartAll();
  }

  void Restart(const std::string& site) {
    REQUIRE(local.Stop(site).has_value());
    local.Start(site);
  }
};

Matrix ValuesOf(Federation& fed, const FederatedMatrix& x) {
  Result<Matrix> values = testing::FetchValues(fed, x);
  REQUIRE_MESSAGE(values.ok(), values.status().ToString());
  return *values;
}

}  // namespace

TEST_CASE("a site that restarts has its part of every live matrix made again, and the step goes on") {
  RestartSites s;
  std::unique_ptr<Federation> fed = s.local.Connect();
  Result<FederatedMatrix> data = FederatedMatrix::Read(*fed, "d");
  REQUIRE_MESSAGE(data.ok(), data.status().ToString());
  Result<FederatedMatrix::Split> split = data->SplitRows(*fed, 0.3, 7);
  REQUIRE_MESSAGE(split.ok(), split.status().ToString());
  Result<FederatedMatrix> x = split->train.SelectColumns(*fed, {0, 2});
  REQUIRE(x.ok());
  Result<FederatedMatrix> scaled = Elementwise(*fed, *x, Op::kMul, Matrix::Constant(1, 1, 2.5));
  REQUIRE(scaled.ok());
  const Matrix held_out = ValuesOf(*fed, split->held_out), kept = ValuesOf(*fed, *scaled);
  const Result<Matrix> sums = x->ColSums(*fed);
  REQUIRE(sums.ok());

  s.Restart("b");
  // The first step after the restart finds b's variables gone, has them made, and runs again.
  const Result<Matrix> again = x->ColSums(*fed);
  REQUIRE_MESSAGE(again.ok(), again.status().ToString());
  CHECK(fed->restarts("b") == 1);
  CHECK(fed->restarts("a") == 0);
  CHECK(*again == *sums);
  CHECK(ValuesOf(*fed, *scaled) == kept);
  CHECK(ValuesOf(*fed, split->held_out) == held_out);
  // The parts made again are the live matrices' and no more: the read and the whole split went.
  SiteResponses catalog = fed->CallAll({Request::ListCatalog()});
  REQUIRE(FirstError(catalog).ok());
  const int64_t live_at_a = (*catalog.at("a"))[0].meta["variables"];
  CHECK((*catalog.at("b"))[0].meta["variables"] == live_at_a);
}

TEST_CASE("a value the master sent is lost with a restart, and the error says so") {
  RestartSites s;
  std::unique_ptr<Federation> fed = s.local.Connect();
  Result<FederatedMatrix> sent =
      FederatedMatrix::Distribute(*fed, {{"a", Matrix::Ones(2, 2)}, {"b", Matrix::Ones(3, 2)}}, {"p", "q"});
  REQUIRE(sent.ok());
  s.Restart("b");
  const Status lost = sent->ColSums(*fed).status();
  CHECK(lost.code() == StatusCode::kUnavailable);
  CHECK_MESSAGE(lost.message().find("site 'b' restarted and lost variable") != std::string::npos, lost.message());
  CHECK(lost.message().find("no recipe") != std::string::npos);
  // The site serves on: a matrix read after the restart works.
  Result<FederatedMatrix> data = FederatedMatrix::Read(*fed, "d");
  REQUIRE(data.ok());
  CHECK(data->ColSums(*fed).ok());
}

TEST_CASE("a site that comes back with different data fails the step, saying its data changed") {
  RestartSites s;
  std::unique_ptr<Federation> fed = s.local.Connect();
  Result<FederatedMatrix> data = FederatedMatrix::Read(*fed, "d");
  REQUIRE(data.ok());
  REQUIRE(s.local.Stop("b").has_value());
  testing::WriteFile(s.local.kit("b") / "d.csv", RestartCsv(25, 100));
  s.local.Start("b");
  const Status changed = data->ColSums(*fed).status();
  CHECK(changed.code() == StatusCode::kFailedPrecondition);
  CHECK_MESSAGE(changed.message().find("site 'b': read 'd' now makes 25 rows where it made 40") != std::string::npos,
                changed.message());
  CHECK(changed.message().find("data changed") != std::string::npos);
}

}  // namespace fedra
