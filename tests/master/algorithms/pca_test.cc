// Federated PCA against an SVD of the pooled data done here: components (up to sign), variances,
// explained ratios, and the projection that stays at the sites.
#include <doctest/doctest.h>

#include <random>

#include <Eigen/SVD>

#include "master/algorithms/pca.h"
#include "master/jobs/job.h"
#include "master/jobs/saved_model.h"
#include "tests/support/federated_data.h"
#include "tests/support/in_process_federation.h"
#include "tests/support/local_federation.h"
#include "tests/support/r_federation.h"
#include "tests/support/temp_dir.h"

namespace fedra {
namespace {

using testing::InProcessSites;
using testing::TempDir;

Matrix Correlated(int rows, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> z(0, 1);
  Matrix m(rows, 4);
  for (int i = 0; i < rows; ++i) {
    const double a = z(rng), b = z(rng);
    m(i, 0) = 3 * a + 0.1 * z(rng) + 5;
    m(i, 1) = 2 * a - b + 0.1 * z(rng);
    m(i, 2) = 0.5 * b + 0.1 * z(rng) - 2;
    m(i, 3) = 10 * z(rng);
  }
  return m;
}

}  // namespace

TEST_CASE("federated PCA equals an SVD of the pooled data") {
  TempDir dir;
  InProcessSites local(dir.path(), {"a", "b", "c"});
  local.StartAll();
  auto fed = local.Connect();
  const std::vector<int> split = {33, 120, 247};
  Matrix pooled(400, 4);
  std::vector<std::pair<std::string, Matrix>> parts;
  for (int s = 0, row = 0; s < 3; row += split[s], ++s) {
    Matrix part = Correlated(split[s], 90 + s);
    pooled.middleRows(row, split[s]) = part;
    parts.emplace_back(local.sites()[s], part);
  }
  Result<FederatedMatrix> x = FederatedMatrix::Distribute(*fed, parts, {"p", "q", "r", "s"});
  REQUIRE(x.ok());

  for (bool scale : {false, true}) {
    CAPTURE(scale);
    Result<PcaModel> model = FitPca(*fed, *x, PcaOptions{3, true, scale});
    REQUIRE_MESSAGE(model.ok(), model.status().ToString());
    Matrix centered = pooled.rowwise() - pooled.colwise().mean();
    if (scale) {
      const Eigen::RowVectorXd sd = (centered.colwise().squaredNorm() / 399.0).cwiseSqrt();
      centered = centered.array().rowwise() / sd.array();
    }
    Eigen::JacobiSVD<Matrix> svd(centered, Eigen::ComputeThinV);
    const Eigen::VectorXd variances = svd.singularValues().array().square() / 399.0;
    for (int c = 0; c < 3; ++c) {
      CAPTURE(c);
      CHECK(model->variances(c) == doctest::Approx(variances(c)).epsilon(1e-9));
      CHECK(model->explained_ratio(c) == doctest::Approx(variances(c) / variances.sum()).epsilon(1e-9));
      const Eigen::VectorXd want = svd.matrixV().col(c);
      const double sign = want.dot(model->components.col(c)) < 0 ? -1 : 1;
      CHECK((model->components.col(c) - sign * want).cwiseAbs().maxCoeff() < 1e-7);
    }
    Result<FederatedMatrix> projected = ProjectPca(*fed, *x, *model);
    REQUIRE_MESSAGE(projected.ok(), projected.status().ToString());
    CHECK(projected->map().parts().size() == 3);  // the projection stays where the rows are
    Result<Matrix> values = testing::FetchValues(*fed, *projected);
    REQUIRE(values.ok());
    const Matrix want = centered * model->components;
    CHECK((*values - want).cwiseAbs().maxCoeff() < 1e-9 * std::max(1.0, want.cwiseAbs().maxCoeff()));
  }
  CHECK(FitPca(*fed, *x, PcaOptions{5, true, false}).status().message().find("components must be in 1..4") !=
        std::string::npos);
}

TEST_CASE_TEMPLATE("a pca job over private-aggregate data reports components and the projection's parts", Sites,
                   InProcessSites, testing::LocalFederation) {
  TempDir dir;
  Sites local(dir.path(), {"a", "b"});
  local.AddCsvDataset("a", "m", Correlated(50, 1), {"p", "q", "r", "s"}, "private-aggregate");
  local.AddCsvDataset("b", "m", Correlated(80, 2), {"p", "q", "r", "s"}, "private-aggregate");
  local.StartAll();
  auto fed = local.Connect();
  Result<JobSpec> spec = ParseJobSpec(
      nlohmann::json::parse(R"({"algorithm": "pca", "data": {"dataset": "m"}, "params": {"k": 2, "scale": true}})"),
      "job.json");
  REQUIRE_MESSAGE(spec.ok(), spec.status().ToString());
  Result<nlohmann::json> result = RunJob(*fed, *spec);
  REQUIRE_MESSAGE(result.ok(), result.status().ToString());
  // PC1, PC2, each with a loading per column, in the order of "columns".
  CHECK((*result)["columns"] == nlohmann::json::array({"p", "q", "r", "s"}));
  REQUIRE((*result)["components"].size() == 2);
  CHECK((*result)["components"][1].size() == 4);
  CHECK((*result)["components"][1][1].is_number());
  CHECK((*result)["metrics"]["explained_variance_ratio"].size() == 2);
  CHECK((*result)["projection"]["cols"] == 2);
  CHECK((*result)["projection"]["parts"].size() == 2);
  // The model keeps the centre and scale that new rows must be given before projecting them.
  const Matrix pooled = [] {
    Matrix m(130, 4);
    m << Correlated(50, 1), Correlated(80, 2);
    return m;
  }();
  const Eigen::RowVectorXd mean = pooled.colwise().mean();
  const Eigen::RowVectorXd sd =
      ((pooled.rowwise() - mean).array().square().colwise().sum() / (pooled.rows() - 1)).sqrt();
  const std::optional<nlohmann::json> saved = SavedModel(*spec, *result, 1);
  REQUIRE(saved.has_value());
  CHECK((*saved)["inputs"] == nlohmann::json::array({"p", "q", "r", "s"}));
  CHECK((*saved)["components"] == (*result)["components"]);
  for (Eigen::Index j = 0; j < 4; ++j) {
    CHECK((*saved)["center"][j].get<double>() == doctest::Approx(mean(j)).epsilon(1e-12));
    CHECK((*saved)["scale"][j].get<double>() == doctest::Approx(sd(j)).epsilon(1e-12));
  }
  // Row-level projected values of private-aggregate data never leave: only the shape did.
  CHECK(testing::ReadFile(local.audit_log("a")).find("\"request\":\"exec matmul\"") != std::string::npos);
  SiteResponses catalogs = fed->CallAll({Request::ListCatalog()});
  REQUIRE(FirstError(catalogs).ok());
  for (const auto& [site, responses] : catalogs) CHECK((*responses)[0].meta["variables"] == 0);
}

TEST_CASE("PCA gives prcomp's variances and rotation on real, unscaled data") {
  testing::RFederation f("usarrests", "public");
  Result<PcaModel> model = FitPca(*f.fed, *f.data, PcaOptions{.components = 4});
  REQUIRE_MESSAGE(model.ok(), model.status().ToString());
  const std::vector<double> variances = f.r.fit["pca"]["variances"];
  const std::vector<std::vector<double>> rotation = f.r.fit["pca"]["rotation"];  // rows: the columns
  for (size_t c = 0; c < variances.size(); ++c) {
    CAPTURE(c);
    const auto k = static_cast<Eigen::Index>(c);
    CHECK(model->variances(k) == doctest::Approx(variances[c]).epsilon(1e-9));
    // An eigenvector's sign is arbitrary: compare up to it.
    double dot = 0;
    for (size_t j = 0; j < rotation.size(); ++j)
      dot += model->components(static_cast<Eigen::Index>(j), k) * rotation[j][c];
    CHECK(std::abs(dot) == doctest::Approx(1).epsilon(1e-9));
  }
}

}  // namespace fedra
