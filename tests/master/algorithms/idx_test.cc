// Fashion-MNIST as Debian's dataset-fashion-mnist ships it (gzip IDX), served by a real site as
// an "idx" dataset: shape, pixel range (of a public copy: order statistics of protected data are
// refused), and the published balance of its test set (1,000 images of each of the 10 classes),
// all computed federatedly. Skips when the package is missing.
#include <doctest/doctest.h>

#include "master/tensor/federated_ops.h"
#include "tests/support/federated_data.h"
#include "tests/support/in_process_federation.h"
#include "tests/support/temp_dir.h"

namespace fedra {

TEST_CASE("Fashion-MNIST's test set served as an idx dataset") {
  const std::filesystem::path dir_fm = "/usr/share/datasets/fashion-mnist";
  if (!std::filesystem::exists(dir_fm / "t10k-images-idx3-ubyte.gz")) {
    MESSAGE("skipped: " << dir_fm.string() << " is missing (scripts/install-deps installs dataset-fashion-mnist)");
    return;
  }
  testing::TempDir dir;
  testing::InProcessSites local(dir.path(), {"a"});
  local.EditConfig("a", [&](nlohmann::json& c) {
    c["datasets"]["fashion"] = {{"format", "idx"},
                                {"path", (dir_fm / "t10k-images-idx3-ubyte.gz").string()},
                                {"labels", (dir_fm / "t10k-labels-idx1-ubyte.gz").string()},
                                {"privacy", "private-aggregate"}};
    c["datasets"]["fashion_public"] = c["datasets"]["fashion"];
    c["datasets"]["fashion_public"]["privacy"] = "public";
    // A label file that does not match the images: listed with its error, the site still runs.
    c["datasets"]["mismatched"] = {{"format", "idx"},
                                   {"path", (dir_fm / "t10k-images-idx3-ubyte.gz").string()},
                                   {"labels", (dir_fm / "train-labels-idx1-ubyte.gz").string()},
                                   {"privacy", "private-aggregate"}};
  });
  local.StartAll();
  auto fed = local.Connect();

  Result<FederatedMatrix> x = FederatedMatrix::Read(*fed, "fashion");
  REQUIRE_MESSAGE(x.ok(), x.status().ToString());
  CHECK(x->rows() == 10000);
  CHECK(x->cols() == 28 * 28 + 1);
  CHECK(x->column_names().front() == "p0");
  CHECK(x->column_names().back() == "label");
  Result<FederatedMatrix> pixels = x->SelectColumns(*fed, {0, 350, 783});
  REQUIRE(pixels.ok());
  CHECK(Max(*fed, *pixels).status().message().find("order statistic") != std::string::npos);
  Result<FederatedMatrix> open = FederatedMatrix::Read(*fed, "fashion_public", {"p0", "p350", "p783"});
  REQUIRE(open.ok());
  CHECK(*Min(*fed, *open) == 0);
  CHECK(*Max(*fed, *open) <= 255);
  Result<FederatedMatrix> label = x->SelectColumns(*fed, {784});
  REQUIRE(label.ok());
  Result<Eigen::VectorXd> counts = ClassCounts(*fed, *label);
  REQUIRE_MESSAGE(counts.ok(), counts.status().ToString());
  CHECK(*counts == Eigen::VectorXd::Constant(10, 1000));
  // Row-level pixels of private-aggregate data stay at the site.
  CHECK(testing::FetchValues(*fed, *pixels).status().code() == StatusCode::kPermissionDenied);

  SiteResponses catalog = fed->CallAll({Request::ListCatalog()});
  REQUIRE(FirstError(catalog).ok());
  bool reported = false;
  for (const auto& d : (*catalog.at("a"))[0].meta["datasets"]) {
    if (d["name"] == "mismatched") {
      reported = d["error"].get<std::string>().find("10000 items but 60000 labels") != std::string::npos;
    }
  }
  CHECK(reported);
  CHECK(FederatedMatrix::Read(*fed, "mismatched").status().message().find("60000 labels") != std::string::npos);
}

}  // namespace fedra
