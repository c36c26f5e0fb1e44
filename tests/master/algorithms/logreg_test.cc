// Federated logistic regression against independent local references on the pooled data:
// binomial against Newton's method (IRLS) run here; multinomial by checking that the gradient of
// the regularised loss, computed here on the pooled data, vanishes at the federated solution.
#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include <Eigen/Dense>

#include "master/algorithms/logreg.h"
#include "master/jobs/job.h"
#include "tests/support/in_process_federation.h"
#include "tests/support/local_federation.h"
#include "tests/support/temp_dir.h"

namespace fedra {
namespace {

using testing::InProcessSites;
using testing::TempDir;

// rows x (2 features + label); labels from a noisy linear score, K classes.
Matrix Classification(int rows, int classes, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> x(0, 1.5), noise(0, 1.0);
  Matrix m(rows, 3);
  for (int i = 0; i < rows; ++i) {
    m(i, 0) = x(rng);
    m(i, 1) = x(rng);
    const double score = 0.8 * m(i, 0) - 1.2 * m(i, 1) + 0.3 + noise(rng);
    m(i, 2) = classes == 2 ? (score > 0) : (score < -1 ? 0 : score < 1 ? 1 : 2);
  }
  return m;
}

template <class Sites = InProcessSites>
struct Fixture {
  TempDir dir;
  Sites local{dir.path(), {"a", "b", "c"}};
  Matrix pooled;
  std::unique_ptr<Federation> fed;

  explicit Fixture(int classes) {
    pooled = Classification(600, classes, 70);
    // Every site holds at least 10 rows of each class: a private-aggregate site refuses gradients
    // whose per-class sums cover fewer.
    local.AddSplitCsvDataset("cls", pooled, {100, 150, 350}, {"u", "v", "label"}, "private-aggregate");
    local.StartAll();
    fed = local.Connect();
  }

  Matrix X1() const {
    Matrix x(pooled.rows(), 3);
    x.col(0).setOnes();
    x.rightCols(2) = pooled.leftCols(2);
    return x;
  }
};

// Newton's method on the pooled data: the binomial reference.
Eigen::VectorXd Irls(const Matrix& x, const Eigen::VectorXd& y, double lambda) {
  Eigen::VectorXd w = Eigen::VectorXd::Zero(x.cols());
  const double n = static_cast<double>(x.rows());
  Eigen::VectorXd penalty = Eigen::VectorXd::Constant(x.cols(), lambda);
  penalty(0) = 0;
  for (int it = 0; it < 50; ++it) {
    const Eigen::VectorXd p = (1 / (1 + (-(x * w)).array().exp())).matrix();
    const Eigen::VectorXd g = x.transpose() * (p - y) / n + penalty.cwiseProduct(w);
    Matrix h = x.transpose() * (p.array() * (1 - p.array())).matrix().asDiagonal() * x / n;
    h.diagonal() += penalty;
    w -= h.ldlt().solve(g);
  }
  return w;
}

}  // namespace

TEST_CASE("binomial logistic regression matches Newton's method on the pooled data") {
  Fixture<> f(2);
  Result<FederatedMatrix> data = FederatedMatrix::Read(*f.fed, "cls");
  REQUIRE(data.ok());
  for (double lambda : {0.0, 0.1}) {
    CAPTURE(lambda);
    Result<LogRegModel> model =
        FitLogReg(*f.fed, *data, {0, 1}, 2, LogRegOptions{.lambda = lambda, .tolerance = 1e-9, .max_iterations = 500});
    REQUIRE_MESSAGE(model.ok(), model.status().ToString());
    CHECK(model->classes == 2);
    REQUIRE(model->weights.cols() == 1);
    const Eigen::VectorXd want = Irls(f.X1(), f.pooled.col(2), lambda);
    CHECK_MESSAGE((model->weights.col(0) - want).cwiseAbs().maxCoeff() < 1e-5, model->weights.transpose(), " vs ",
                  want.transpose());
    // Metrics against the pooled data at the returned weights.
    const Eigen::VectorXd p = (1 / (1 + (-(f.X1() * model->weights.col(0))).array().exp())).matrix();
    const Eigen::ArrayXd y = f.pooled.col(2).array();
    const double log_loss = -(y * p.array().log() + (1 - y) * (1 - p.array()).log()).mean();
    const double accuracy = ((p.array() >= 0.5).cast<double>() == y).cast<double>().mean();
    CHECK(model->log_loss == doctest::Approx(log_loss).epsilon(1e-9));
    // Private-aggregate sites withhold counts of correct predictions; here, on the pooled data:
    CHECK(std::isnan(model->accuracy));
    CHECK(accuracy > 0.7);
  }
}

TEST_CASE("multinomial logistic regression reaches the optimum of the pooled problem") {
  Fixture<> f(3);
  Result<FederatedMatrix> data = FederatedMatrix::Read(*f.fed, "cls");
  REQUIRE(data.ok());
  const double lambda = 0.05;
  Result<LogRegModel> model =
      FitLogReg(*f.fed, *data, {0, 1}, 2, LogRegOptions{.lambda = lambda, .tolerance = 1e-9, .max_iterations = 1000});
  REQUIRE_MESSAGE(model.ok(), model.status().ToString());
  CHECK(model->classes == 3);
  REQUIRE(model->weights.cols() == 3);
  // Gradient of mean cross-entropy + lambda/2 |W without intercept|^2, computed here.
  const Matrix x = f.X1();
  Matrix scores = x * model->weights;
  Matrix residual = Matrix::Zero(x.rows(), 3);
  double log_loss = 0, correct = 0;
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    const Eigen::RowVectorXd e = (scores.row(i).array() - scores.row(i).maxCoeff()).exp();
    const auto c = static_cast<Eigen::Index>(f.pooled(i, 2));
    residual.row(i) = e / e.sum();
    log_loss -= std::log(residual(i, c));
    Eigen::Index best;
    scores.row(i).maxCoeff(&best);
    correct += best == c;
    residual(i, c) -= 1;
  }
  Matrix penalised = model->weights;
  penalised.row(0).setZero();
  const Matrix gradient = x.transpose() * residual / static_cast<double>(x.rows()) + lambda * penalised;
  CHECK_MESSAGE(gradient.cwiseAbs().maxCoeff() < 1e-6, gradient);
  CHECK(model->log_loss == doctest::Approx(log_loss / x.rows()).epsilon(1e-9));
  CHECK(std::isnan(model->accuracy));  // withheld by private-aggregate sites
  CHECK(correct / static_cast<double>(x.rows()) > 0.6);
}

TEST_CASE_TEMPLATE("logreg jobs report metrics, and bad labels and parameters are named", Sites, InProcessSites,
                   testing::LocalFederation) {
  Fixture<Sites> f(3);
  Result<JobSpec> spec = ParseJobSpec(
      nlohmann::json::parse(
          R"({"algorithm": "logreg", "data": {"dataset": "cls", "label": "label"}, "params": {"lambda": 0.01}})"),
      "job.json");
  REQUIRE(spec.ok());
  Result<nlohmann::json> result = RunJob(*f.fed, *spec);
  REQUIRE_MESSAGE(result.ok(), result.status().ToString());
  CHECK((*result)["classes"] == 3);
  CHECK((*result)["coefficients"]["2"]["u"].is_number());
  CHECK((*result)["metrics"]["log_loss"].get<double>() < std::log(3.0));  // better than guessing
  CHECK_FALSE((*result)["metrics"].contains("accuracy"));

  CHECK(ParseJobSpec(nlohmann::json::parse(R"({"algorithm": "logreg", "data": {"dataset": "cls", "label": 2},
      "params": {"max_iterations": 0}})"),
                     "job.json")
            .status()
            .message()
            .find("max_iterations") != std::string::npos);
  // A continuous column as the label is refused with the reason.
  Status bad =
      RunJob(*f.fed, *ParseJobSpec(
                         nlohmann::json::parse(R"({"algorithm": "logreg", "data": {"dataset": "cls", "label": "u"}})"),
                         "job.json"))
          .status();
  CHECK_FALSE(bad.ok());
  CHECK(bad.message().find("label") != std::string::npos);
  SiteResponses catalogs = f.fed->CallAll({Request::ListCatalog()});
  REQUIRE(FirstError(catalogs).ok());
  for (const auto& [site, responses] : catalogs) CHECK((*responses)[0].meta["variables"] == 0);
}

}  // namespace fedra
