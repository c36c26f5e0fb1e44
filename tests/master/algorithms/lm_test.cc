// Federated lm and lmCG against independent local references on the pooled data and against R's
// lm and summary() on real data split over sites, the cost of a CG iteration in round trips, and
// job-spec errors that name what is wrong.
#include <doctest/doctest.h>

#include <random>

#include <Eigen/Dense>

#include "master/algorithms/lm.h"
#include "master/jobs/job.h"
#include "tests/support/in_process_federation.h"
#include "tests/support/local_federation.h"
#include "tests/support/r_federation.h"
#include "tests/support/temp_dir.h"

namespace fedra {
namespace {

using testing::InProcessSites;
using testing::TempDir;

const std::vector<std::string> kRegressionColumns = {"a", "b", "c", "d", "y"};

// y = 3 + 2a - b + 0.5c + 0d + noise
Matrix Regression(int rows, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> x(0, 2), noise(0, 0.3);
  Matrix m(rows, 5);
  for (int i = 0; i < rows; ++i) {
    for (int j = 0; j < 4; ++j) m(i, j) = x(rng) + j;
    m(i, 4) = 3 + 2 * m(i, 0) - m(i, 1) + 0.5 * m(i, 2) + noise(rng);
  }
  return m;
}

// Sites: InProcessSites for the algorithm, LocalFederation where processes and TLS are part of it.
template <class Sites = InProcessSites>
struct LmFixture {
  TempDir dir;
  Sites local{dir.path(), {"a", "b", "c"}};
  Matrix pooled;
  std::unique_ptr<Federation> fed;

  LmFixture() {
    pooled = Regression(1000, 40);
    local.AddSplitCsvDataset("reg", pooled, {61, 240, 699}, kRegressionColumns, "private-aggregate");
    local.StartAll();
    fed = local.Connect();
  }

  // Independent reference: ridge through an augmented least-squares problem solved by QR.
  Eigen::VectorXd Reference(double lambda, bool intercept) const {
    const Eigen::Index n = pooled.rows(), o = intercept ? 1 : 0;
    Matrix a = Matrix::Zero(n + 4, 4 + o);
    Eigen::VectorXd b = Eigen::VectorXd::Zero(n + 4);
    if (intercept) a.col(0).head(n).setOnes();
    a.block(0, o, n, 4) = pooled.leftCols(4);
    a.block(n, o, 4, 4) = std::sqrt(lambda) * Matrix::Identity(4, 4);
    b.head(n) = pooled.col(4);
    return a.colPivHouseholderQr().solve(b);
  }

  // As R defines it: about the mean with an intercept, about zero without.
  double R2(const Eigen::VectorXd& w, bool intercept) const {
    Eigen::VectorXd pred = pooled.leftCols(4) * w.tail(4);
    if (intercept) pred.array() += w(0);
    const Eigen::VectorXd y = pooled.col(4);
    const double total = intercept ? (y.array() - y.mean()).matrix().squaredNorm() : y.squaredNorm();
    return 1 - (y - pred).squaredNorm() / total;
  }
};

// The estimate of coefficient `name` in a job result's coefficient table.
double Coefficient(const nlohmann::json& result, const std::string& name, const char* field = "estimate") {
  for (const nlohmann::json& row : result["coefficients"]) {
    if (row["name"] == name) return row[field].get<double>();
  }
  FAIL("no coefficient " << name);
  return 0;
}

void CheckClose(const Eigen::VectorXd& got, const Eigen::VectorXd& want, double tol) {
  REQUIRE(got.size() == want.size());
  CHECK_MESSAGE((got - want).cwiseAbs().maxCoeff() <= tol * std::max(1.0, want.cwiseAbs().maxCoeff()), "got ",
                got.transpose(), " want ", want.transpose());
}

}  // namespace

TEST_CASE("federated lm and lmCG match local least squares on the pooled data") {
  LmFixture<> f;
  Result<FederatedMatrix> data = FederatedMatrix::Read(*f.fed, "reg");
  REQUIRE(data.ok());
  for (bool cg : {false, true}) {
    for (bool intercept : {true, false}) {
      for (double lambda : {0.0, 5.0}) {
        CAPTURE(cg);
        CAPTURE(intercept);
        CAPTURE(lambda);
        LmOptions options{.lambda = lambda, .intercept = intercept, .conjugate_gradient = cg};
        Result<LmModel> model = FitLm(*f.fed, *data, {0, 1, 2, 3}, 4, options);
        REQUIRE_MESSAGE(model.ok(), model.status().ToString());
        const Eigen::VectorXd want = f.Reference(lambda, intercept);
        CheckClose(model->coefficients, want, cg ? 1e-7 : 1e-9);
        CHECK(model->r2 == doctest::Approx(f.R2(want, intercept)).epsilon(1e-8));
        CHECK(model->converged);
        CHECK(model->names.front() == (intercept ? "(intercept)" : "a"));
        if (cg) CHECK(model->iterations <= 6);
      }
    }
  }
}

// Boston's 506 rows (13 raw columns, scales from 0.4 to 700) split 101/151/254 over three sites;
// public, since its river dummy (chas) is 1 at too few rows per site for private-aggregate sums.
TEST_CASE("lm and lmCG with their defaults give R's lm and summary on real, unscaled data") {
  testing::RFederation f("boston", "public");
  const testing::RCase& boston = f.r;
  const nlohmann::json& r = boston.fit;
  const std::vector<double> estimate = r["coefficients"]["estimate"], std_error = r["coefficients"]["std_error"],
                            t_value = r["coefficients"]["statistic"], p_value = r["coefficients"]["p_value"];
  for (bool cg : {false, true}) {
    CAPTURE(cg);
    Result<LmModel> model = FitLm(*f.fed, *f.data, boston.features_except("medv"), boston.column("medv"),
                                  LmOptions{.conjugate_gradient = cg});
    REQUIRE_MESSAGE(model.ok(), model.status().ToString());
    CHECK(model->converged);
    if (cg) CHECK(model->iterations <= 2 * 14);
    REQUIRE(model->has_summary);
    const LmSummary& s = model->summary;
    REQUIRE(s.std_errors.size() == static_cast<Eigen::Index>(estimate.size()));
    for (size_t j = 0; j < estimate.size(); ++j) {
      CAPTURE(r["coefficients"]["names"][j]);
      CHECK(model->coefficients(j) == doctest::Approx(estimate[j]).epsilon(1e-6));
      CHECK(s.std_errors(j) == doctest::Approx(std_error[j]).epsilon(1e-6));
      CHECK(s.t_values(j) == doctest::Approx(t_value[j]).epsilon(1e-6));
      CHECK(s.p_values(j) == doctest::Approx(p_value[j]).epsilon(1e-5));
    }
    CHECK(s.residual_standard_error == doctest::Approx(r["sigma"].get<double>()).epsilon(1e-8));
    CHECK(s.df == r["df"].get<double>());
    CHECK(model->r2 == doctest::Approx(r["r2"].get<double>()).epsilon(1e-9));
    CHECK(s.adj_r2 == doctest::Approx(r["adj_r2"].get<double>()).epsilon(1e-9));
    CHECK(s.f_statistic == doctest::Approx(r["f"].get<double>()).epsilon(1e-8));
    CHECK(s.f_df1 == r["f_df"][0].get<double>());
    CHECK(s.f_df2 == r["f_df"][1].get<double>());
    CHECK(s.f_p_value == doctest::Approx(r["f_p_value"].get<double>()).epsilon(1e-5));
  }
}

TEST_CASE("a constant column is named, and collinear columns are refused with what to do") {
  TempDir dir;
  Matrix m = Regression(300, 41);
  m.col(3).setConstant(2.5);
  InProcessSites local(dir.path(), {"a", "b", "c"});
  local.AddSplitCsvDataset("reg", m, {60, 90, 150}, kRegressionColumns, "public");
  local.StartAll();
  std::unique_ptr<Federation> fed = local.Connect();
  Result<FederatedMatrix> data = FederatedMatrix::Read(*fed, "reg");
  REQUIRE(data.ok());
  for (bool cg : {false, true}) {
    Status constant = FitLm(*fed, *data, {0, 1, 2, 3}, 4, LmOptions{.conjugate_gradient = cg}).status();
    CHECK(constant.message().find("column 'd' is constant") != std::string::npos);
    // Penalised, it has an answer.
    CHECK(FitLm(*fed, *data, {0, 1, 2, 3}, 4, LmOptions{.lambda = 1, .conjugate_gradient = cg}).ok());
  }
  Status collinear = FitLm(*fed, *data, {0, 1, 1}, 4, LmOptions{}).status();
  CHECK(collinear.message().find("collinear") != std::string::npos);
}

TEST_CASE("one lmCG iteration costs one batch per site") {
  LmFixture<> f;
  Result<FederatedMatrix> data = FederatedMatrix::Read(*f.fed, "reg");
  REQUIRE(data.ok());
  auto batches = [&] {
    uint64_t total = 0;
    for (const auto& s : f.local.sites()) total += f.fed->batches_sent(s);
    return total;
  };
  auto run = [&](int iterations) {
    const uint64_t before = batches();
    Result<LmModel> m = FitLm(*f.fed, *data, {0, 1, 2, 3}, 4,
                              LmOptions{.conjugate_gradient = true, .max_iterations = iterations, .tolerance = 0});
    REQUIRE(m.ok());
    REQUIRE(m->iterations == iterations);
    return batches() - before;
  };
  const uint64_t two = run(2), five = run(5);
  CHECK(five - two == 3 * 3);  // three more iterations, three sites, one batch each
}

TEST_CASE_TEMPLATE("jobs run end to end and reject what they cannot do, naming it", Sites, InProcessSites,
                   testing::LocalFederation) {
  LmFixture<Sites> f;
  auto job = [](const std::string& text) { return ParseJobSpec(nlohmann::json::parse(text), "job.json"); };

  Result<JobSpec> spec = job(R"({"algorithm": "lm", "data": {"dataset": "reg", "label": "y"},
                                 "params": {"lambda": 0.0, "intercept": true}})");
  REQUIRE(spec.ok());
  Result<nlohmann::json> result = RunJob(*f.fed, *spec);
  REQUIRE_MESSAGE(result.ok(), result.status().ToString());
  const Eigen::VectorXd want = f.Reference(0, true);
  CHECK(Coefficient(*result, "(intercept)") == doctest::Approx(want(0)).epsilon(1e-9));
  CHECK(Coefficient(*result, "a") == doctest::Approx(want(1)).epsilon(1e-9));
  // In the data's column order, intercept first.
  std::vector<std::string> order;
  for (const nlohmann::json& row : (*result)["coefficients"]) order.push_back(row["name"]);
  CHECK(order == std::vector<std::string>{"(intercept)", "a", "b", "c", "d"});
  CHECK((*result)["rows"] == 1000);
  CHECK((*result)["metrics"]["r2"].get<double>() > 0.9);

  // Features by index, label by index.
  Result<JobSpec> by_index =
      job(R"({"algorithm": "lmCG", "data": {"dataset": "reg", "label": 4, "features": [0, 2]}})");
  REQUIRE(by_index.ok());
  Result<nlohmann::json> small = RunJob(*f.fed, *by_index);
  REQUIRE(small.ok());
  CHECK((*small)["coefficients"].size() == 3);

  CHECK(job(R"({"algorithm": "svm", "data": {"dataset": "reg", "label": "y"}})")
            .status()
            .message()
            .find("unknown algorithm 'svm'") != std::string::npos);
  CHECK(job(R"({"algorithm": "lm", "data": {"dataset": "reg", "label": "y"}, "params": {"lamda": 1}})")
            .status()
            .message()
            .find("lamda: unknown field") != std::string::npos);
  CHECK(job(R"({"algorithm": "lm", "data": {"dataset": "reg", "label": "y"}, "params": {"lambda": -1}})")
            .status()
            .message()
            .find("lambda") != std::string::npos);
  Status no_column =
      RunJob(*f.fed, *job(R"({"algorithm": "lm", "data": {"dataset": "reg", "label": "price"}})")).status();
  CHECK(no_column.message().find("unknown column 'price'") != std::string::npos);
  Status no_dataset =
      RunJob(*f.fed, *job(R"({"algorithm": "lm", "data": {"dataset": "housing", "label": "y"}})")).status();
  CHECK(no_dataset.message().find("unknown dataset 'housing'") != std::string::npos);
  Status overlap =
      RunJob(*f.fed, *job(R"({"algorithm": "lm", "data": {"dataset": "reg", "label": "y", "features": ["a", "y"]}})"))
          .status();
  CHECK(overlap.message().find("cannot also be a feature") != std::string::npos);

  // Jobs, failed or not, leave no variable behind at any site.
  SiteResponses catalogs = f.fed->CallAll({Request::ListCatalog()});
  REQUIRE(FirstError(catalogs).ok());
  for (const auto& [site, responses] : catalogs) {
    CAPTURE(site);
    CHECK((*responses)[0].meta["variables"] == 0);
    CHECK((*responses)[0].meta["memory_used_bytes"] == 0);
  }
}

}  // namespace fedra
