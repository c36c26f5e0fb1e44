// A saved model at the site: what a master sends that would break the site or a data owner's
// spreadsheet is refused with a clear error.
#include <doctest/doctest.h>

#include "site-agent/kept_csv.h"
#include "site-agent/model_outputs.h"

namespace fedra {
namespace {

TEST_CASE("scoreModel refuses outputs that are not finite and statistics beyond its bound") {
  const Matrix x{{1.0}, {3.0}};
  const Matrix y{{0.0}, {1.0}};
  ScoreModelParams params;
  params.model.kind = ModelKind::kLogistic;
  Result<Matrix> sums = ScoreSums(params, x, y, Matrix{{0.0}, {1e308}}, false);
  REQUIRE(!sums.ok());
  CHECK(sums.status().message().find("not finite") != std::string::npos);
  Result<Matrix> fine = ScoreSums(params, x, y, Matrix{{0.0}, {0.5}}, false);
  REQUIRE(fine.ok());
  CHECK((*fine)(0, 0) == 2);  // rows
  params.bins = kMaxScoreBins;
  Result<Matrix> wide = ScoreSums(params, x, y, Matrix::Zero(2, 300), false);
  REQUIRE(!wide.ok());
  CHECK(wide.status().message().find("use fewer bins") != std::string::npos);
}

TEST_CASE("kept CSV names are plain cells: no quoting needed, no spreadsheet formulas") {
  CHECK(KeptCsv::Make({{"columns", {"predicted", "p_0"}}}, 2).ok());
  CHECK(KeptCsv::Make({{"columns", {"predicted"}}, {"levels", {{"predicted", {"-1", "+1"}}}}}, 1).ok());
  for (const char* bad : {"=HYPERLINK(\"http://x\")", "@SUM(A1)", "+cmd", "-x", "a,b", "tab\there", ""}) {
    CHECK_MESSAGE(!KeptCsv::Make({{"columns", {"predicted"}}, {"levels", {{"predicted", {bad}}}}}, 1).ok(), bad);
    CHECK_MESSAGE(!KeptCsv::Make({{"columns", {bad}}}, 1).ok(), bad);
  }
  const Result<KeptCsv> csv =
      KeptCsv::Make({{"columns", {"predicted", "p"}}, {"levels", {{"predicted", {"no", "yes"}}}}}, 2);
  REQUIRE(csv.ok());
  CHECK(csv->Text(Matrix{{1.0, 0.75}, {0.0, std::nan("")}}) == "predicted,p\nyes,0.75\nno,\n");
}

}  // namespace
}  // namespace fedra
