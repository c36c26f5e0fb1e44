// Federated logistic regression against independent local references on the pooled data
// (binomial against Newton's method run here; multinomial by checking that the gradient of the
// regularised loss, computed here on the pooled data, vanishes at the federated solution), and
// against R's glm, summary() and nnet::multinom on real data split over sites.
#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include <Eigen/Dense>

#include "master/algorithms/logreg.h"
#include "master/jobs/job.h"
#include "tests/support/in_process_federation.h"
#include "tests/support/local_federation.h"
#include "tests/support/r_federation.h"
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
  for (LogRegMethod method : {LogRegMethod::kNewton, LogRegMethod::kLbfgs})
    for (double lambda : {0.0, 0.1}) {
      CAPTURE(lambda);
      CAPTURE(static_cast<int>(method));
      Result<LogRegModel> model =
          FitLogReg(*f.fed, *data, {0, 1}, 2, LogRegOptions{.lambda = lambda, .method = method, .tolerance = 1e-9});
      REQUIRE_MESSAGE(model.ok(), model.status().ToString());
      CHECK(model->converged);
      CHECK(model->warnings.empty());
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
  for (LogRegMethod method : {LogRegMethod::kNewton, LogRegMethod::kLbfgs}) {
    CAPTURE(static_cast<int>(method));
    Result<LogRegModel> model =
        FitLogReg(*f.fed, *data, {0, 1}, 2, LogRegOptions{.lambda = lambda, .method = method, .tolerance = 1e-9});
    REQUIRE_MESSAGE(model.ok(), model.status().ToString());
    CHECK(model->classes == 3);
    CHECK(model->converged);
    REQUIRE(model->weights.cols() == 2);  // classes 1 and 2 against class 0
    // Gradient of mean cross-entropy + lambda/2 |W without intercept|^2, computed here, with class
    // 0's score fixed at 0.
    const Matrix x = f.X1();
    Matrix scores = Matrix::Zero(x.rows(), 3);
    scores.rightCols(2) = x * model->weights;
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
    const Matrix gradient = x.transpose() * residual.rightCols(2) / static_cast<double>(x.rows()) + lambda * penalised;
    CHECK_MESSAGE(gradient.cwiseAbs().maxCoeff() < 1e-6, gradient);
    CHECK(model->log_loss == doctest::Approx(log_loss / x.rows()).epsilon(1e-9));
    CHECK(std::isnan(model->accuracy));  // withheld by private-aggregate sites
    CHECK(correct / static_cast<double>(x.rows()) > 0.6);
  }
}

namespace {

// Fits R's case's label on every other column.
Result<LogRegModel> FitR(testing::RFederation& f, const LogRegOptions& options = {}) {
  const std::string label = f.r.fit["label"];
  return FitLogReg(*f.fed, *f.data, f.r.features_except(label), f.r.column(label), options);
}

}  // namespace

TEST_CASE("binomial logreg with its defaults gives R's glm and summary on real, unscaled data") {
  // Pima: glucose near 120 beside a pedigree near 0.5; biopsy: nine scores of 1 to 10, some so
  // rare at a site that private-aggregate sites would refuse their sums.
  for (const auto& [name, privacy] : {std::pair{"pima", "private-aggregate"}, std::pair{"biopsy", "public"}}) {
    CAPTURE(name);
    testing::RFederation f(name, privacy);
    Result<LogRegModel> model = FitR(f);
    REQUIRE_MESSAGE(model.ok(), model.status().ToString());
    const nlohmann::json& r = f.r.fit;
    CHECK(model->method == "newton");
    CHECK(model->converged);
    CHECK(model->warnings.empty());
    // Rounds like R's: glm counts its Newton iterations the same way.
    CHECK(model->iterations <= r["iterations"].get<int>() + 1);
    const std::vector<double> estimate = r["coefficients"]["estimate"], std_error = r["coefficients"]["std_error"],
                              z_value = r["coefficients"]["statistic"], p_value = r["coefficients"]["p_value"];
    REQUIRE(model->weights.rows() == static_cast<Eigen::Index>(estimate.size()));
    REQUIRE(model->std_errors.rows() == model->weights.rows());
    for (size_t j = 0; j < estimate.size(); ++j) {
      CAPTURE(r["coefficients"]["names"][j]);
      const auto i = static_cast<Eigen::Index>(j);
      CHECK(model->weights(i, 0) == doctest::Approx(estimate[j]).epsilon(1e-6));
      CHECK(model->std_errors(i, 0) == doctest::Approx(std_error[j]).epsilon(1e-6));
      CHECK(model->z_values(i, 0) == doctest::Approx(z_value[j]).epsilon(1e-6));
      CHECK(model->p_values(i, 0) == doctest::Approx(p_value[j]).epsilon(1e-5));
    }
    CHECK(model->deviance == doctest::Approx(r["deviance"].get<double>()).epsilon(1e-9));
    CHECK(model->null_deviance == doctest::Approx(r["null_deviance"].get<double>()).epsilon(1e-9));
    CHECK(model->aic == doctest::Approx(r["aic"].get<double>()).epsilon(1e-9));
  }
}

TEST_CASE("multinomial logreg gives nnet::multinom's fit on real data") {
  for (const char* name : {"survey", "chickwts"}) {
    CAPTURE(name);
    testing::RFederation f(name, "public");
    Result<LogRegModel> model = FitR(f);
    REQUIRE_MESSAGE(model.ok(), model.status().ToString());
    const nlohmann::json& r = f.r.fit;
    CHECK(model->converged);
    CHECK(model->classes == r["classes"].get<int>());
    CHECK(model->deviance == doctest::Approx(r["deviance"].get<double>()).epsilon(1e-9));
    // multinom's rows are the classes 1..K-1, its columns the coefficients; it stops where BFGS
    // does, so its figures carry about 7 digits.
    const std::vector<std::vector<double>> want = r["coefficients"];
    REQUIRE(model->weights.cols() == static_cast<Eigen::Index>(want.size()));
    for (size_t k = 0; k < want.size(); ++k) {
      for (size_t j = 0; j < want[k].size(); ++j) {
        CAPTURE(k);
        CAPTURE(j);
        CHECK(model->weights(static_cast<Eigen::Index>(j), static_cast<Eigen::Index>(k)) ==
              doctest::Approx(want[k][j]).epsilon(1e-5));
      }
    }
  }
}

TEST_CASE("separated classes give R's warning, and private-aggregate sites refuse the separating fit") {
  // Setosa against the other irises by sepal size: glm warns that fitted probabilities are
  // numerically 0 or 1.
  testing::RFederation f("setosa", "public");
  Result<LogRegModel> model = FitR(f);
  REQUIRE_MESSAGE(model.ok(), model.status().ToString());
  bool r_warned = false;
  for (const std::string w : f.r.fit["warnings"]) r_warned |= w.find("numerically 0 or 1") != std::string::npos;
  REQUIRE(r_warned);
  REQUIRE_FALSE(model->warnings.empty());
  CHECK(model->warnings[0].find("fitted probabilities numerically 0 or 1 occurred") != std::string::npos);
  CHECK(model->deviance < 1e-3);

  testing::RFederation private_sites("setosa", "private-aggregate");
  Status refused = FitR(private_sites).status();
  CHECK(refused.code() == StatusCode::kPermissionDenied);
  CHECK(refused.message().find("lambda > 0") != std::string::npos);
  // Penalised, the fit stays finite and every site answers.
  Result<LogRegModel> penalised = FitR(private_sites, LogRegOptions{.lambda = 0.01});
  REQUIRE_MESSAGE(penalised.ok(), penalised.status().ToString());
  CHECK(penalised->converged);
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
  CHECK((*result)["classes"] == nlohmann::json{"0", "1", "2"});  // the labels, coded in sorted order
  // Class 1 and class 2 against class 0, each in column order.
  const nlohmann::json& rows = (*result)["coefficients"];
  REQUIRE(rows.size() == 6);
  CHECK(rows[3]["class"] == "2");
  CHECK(rows[4]["name"] == "u");
  CHECK(rows[4]["estimate"].is_number());
  CHECK((*result)["method"] == "newton");
  CHECK((*result)["converged"] == true);
  CHECK((*result)["metrics"]["log_loss"].get<double>() < std::log(3.0));  // better than guessing
  CHECK_FALSE((*result)["metrics"].contains("accuracy"));

  CHECK(ParseJobSpec(nlohmann::json::parse(R"({"algorithm": "logreg", "data": {"dataset": "cls", "label": 2},
      "params": {"max_iterations": -1}})"),
                     "job.json")
            .status()
            .message()
            .find("max_iterations") != std::string::npos);
  CHECK(ParseJobSpec(nlohmann::json::parse(R"({"algorithm": "logreg", "data": {"dataset": "cls", "label": 2},
      "params": {"method": "irls"}})"),
                     "job.json")
            .status()
            .message()
            .find("params.method: 'irls' is not one of auto, newton, lbfgs") != std::string::npos);
  // A continuous column as the label is refused with the reason: at private-aggregate sites no
  // value is common enough to name as a class.
  Status bad =
      RunJob(*f.fed, *ParseJobSpec(
                         nlohmann::json::parse(R"({"algorithm": "logreg", "data": {"dataset": "cls", "label": "u"}})"),
                         "job.json"))
          .status();
  CHECK_FALSE(bad.ok());
  CHECK_MESSAGE(bad.message().find("column 'u': as a label it holds 1 class") != std::string::npos, bad.message());
  SiteResponses catalogs = f.fed->CallAll({Request::ListCatalog()});
  REQUIRE(FirstError(catalogs).ok());
  for (const auto& [site, responses] : catalogs) CHECK((*responses)[0].meta["variables"] == 0);
}

}  // namespace fedra
