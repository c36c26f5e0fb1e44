// The privacy matrix over real sites: for each level (public, private-aggregate, private) and
// each kind of operation (aggregate, small aggregate, row-level result kept or returned, GET of
// raw or derived values), whether it is allowed: whether the value leaves its site, and for
// private data whether anything is computed at all. Refusals name the site and dataset.
#include <doctest/doctest.h>

#include <functional>

#include "master/tensor/federated_ops.h"
#include "tests/support/federated_data.h"
#include "tests/support/in_process_federation.h"
#include "tests/support/random_data.h"
#include "tests/support/temp_dir.h"

namespace fedra {
namespace {

using testing::InProcessSites;
using testing::TempDir;

Matrix Random(int rows, unsigned seed) { return testing::UniformMatrix(rows, 3, seed, -1, 1); }

struct Kind {
  const char* name;
  bool small;  // on the dataset whose second site holds fewer rows than its minimum (5 < 10)
  std::function<Status(Federation&, const FederatedMatrix&)> run;
  // Whether it may leave, by level: public, private-aggregate, private.
  bool allowed[3];
};

const std::vector<Kind>& Kinds() {
  using F = Federation;
  using X = FederatedMatrix;
  static const std::vector<Kind> kinds = {
      {"aggregate: colSums", false, [](F& f, const X& x) { return x.ColSums(f).status(); }, {true, true, false}},
      {"aggregate: t(X) %*% X",
       false,
       [](F& f, const X& x) { return x.TransposeSelfProduct(f).status(); },
       {true, true, false}},
      {"aggregate: moments function",
       false,
       [](F& f, const X& x) { return x.SumOverParts(f, {X::PartOp{MomentsParams{}}}).status(); },
       {true, true, false}},
      {"aggregate over too few rows",
       true,
       [](F& f, const X& x) { return x.ColSums(f).status(); },
       {true, false, false}},
      {"row-level result kept at the sites: X %*% v",
       false,
       [](F& f, const X& x) { return MatMul(f, x, Matrix::Ones(3, 1)).status(); },
       {true, true, false}},
      {"row-level result returned: colSums(t(X))",
       false,
       [](F& f, const X& x) { return x.Transposed().ColSums(f).status(); },
       {true, false, false}},
      {"GET of a derived row-level value: X * 2",
       false,
       [](F& f, const X& x) -> Status {
         FEDRA_ASSIGN_OR_RETURN(X doubled, Elementwise(f, x, Op::kMul, Matrix::Constant(1, 1, 2)));
         return testing::FetchValues(f, doubled).status();
       },
       {true, false, false}},
      {"GET of the raw data",
       false,
       [](F& f, const X& x) { return testing::FetchValues(f, x).status(); },
       {true, false, false}},
  };
  return kinds;
}

}  // namespace

TEST_CASE("each privacy level releases exactly what it allows, for every kind of operation") {
  TempDir dir;
  InProcessSites local(dir.path(), {"a", "b"});
  const char* levels[] = {"public", "private-aggregate", "private"};
  unsigned seed = 1;
  for (const char* level : levels) {
    const std::string name = std::string(level) == "private-aggregate" ? "agg" : level;
    local.AddCsvDataset("a", name, Random(40, seed++), {"x", "y", "z"}, level);
    local.AddCsvDataset("b", name, Random(40, seed++), {"x", "y", "z"}, level);
    local.AddCsvDataset("a", name + "_small", Random(40, seed++), {"x", "y", "z"}, level);
    local.AddCsvDataset("b", name + "_small", Random(5, seed++), {"x", "y", "z"}, level);
  }
  local.StartAll();
  auto fed = local.Connect();

  for (int l = 0; l < 3; ++l) {
    const std::string base = l == 1 ? "agg" : levels[l];
    for (const Kind& kind : Kinds()) {
      const std::string dataset = base + (kind.small ? "_small" : "");
      const std::string kind_name = kind.name;
      CAPTURE(kind_name);
      CAPTURE(dataset);
      Result<FederatedMatrix> x = FederatedMatrix::Read(*fed, dataset);
      REQUIRE_MESSAGE(x.ok(), x.status().ToString());
      const Status s = kind.run(*fed, *x);
      if (kind.allowed[l]) {
        CHECK_MESSAGE(s.ok(), s.ToString());
      } else {
        CHECK_MESSAGE(s.code() == StatusCode::kPermissionDenied, s.ToString());
        CHECK(s.message().find("site '") != std::string::npos);
        CHECK(s.message().find("dataset '" + dataset + "'") != std::string::npos);
        CHECK(s.message().find(levels[l]) != std::string::npos);
      }
    }
  }
  // Refused or not, every step left nothing behind.
  REQUIRE(fed->FlushReleases().ok());
  auto catalogs = fed->CallAll({Request::ListCatalog()});
  REQUIRE(FirstError(catalogs).ok());
  for (const auto& [site, responses] : catalogs) CHECK((*responses)[0].meta["variables"] == 0);
}

}  // namespace fedra
