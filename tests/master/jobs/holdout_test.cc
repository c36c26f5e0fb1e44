// Held-out splits: made at the sites by a seeded hash, the same rows every time, and each
// algorithm's held-out metrics equal the same metrics computed here on exactly those rows.
#include <doctest/doctest.h>

#include <random>
#include <set>

#include <Eigen/Dense>

#include "master/jobs/job.h"
#include "tests/support/federated_data.h"
#include "tests/support/in_process_federation.h"
#include "tests/support/temp_dir.h"

namespace fedra {
namespace {

using testing::InProcessSites;
using testing::TempDir;

const std::vector<std::string> kColumns = {"id", "a", "b", "y", "cls"};
constexpr int kRows = 800;

// id (the pooled row index), two features, a noisy linear y and a class label from it.
Matrix Data() {
  std::mt19937 rng(21);
  std::normal_distribution<double> x(0, 1.5), noise(0, 0.7);
  Matrix m(kRows, 5);
  for (int i = 0; i < kRows; ++i) {
    m(i, 0) = i;
    m(i, 1) = x(rng);
    m(i, 2) = x(rng);
    m(i, 3) = 1 + 2 * m(i, 1) - m(i, 2) + noise(rng);
    m(i, 4) = m(i, 3) + noise(rng) > 1;
  }
  return m;
}

struct Fixture {
  TempDir dir;
  InProcessSites local{dir.path(), {"a", "b", "c"}};
  Matrix pooled = Data();
  std::unique_ptr<Federation> fed;

  Fixture() {
    local.AddSplitCsvDataset("d", pooled, {150, 250, 400}, kColumns, "public");
    local.StartAll();
    fed = local.Connect();
  }

  // The ids of the rows the split with this fraction and seed holds out, read back from the
  // sites (the data is public).
  std::set<int> HeldOutIds(double fraction, uint64_t seed) {
    Result<FederatedMatrix> x = FederatedMatrix::Read(*fed, "d");
    REQUIRE(x.ok());
    Result<FederatedMatrix::Split> split = x->SplitRows(*fed, fraction, seed);
    REQUIRE_MESSAGE(split.ok(), split.status().ToString());
    Result<Matrix> held_out = testing::FetchValues(*fed, split->held_out);
    REQUIRE(held_out.ok());
    CHECK(split->train.rows() + split->held_out.rows() == kRows);
    std::set<int> ids;
    for (Eigen::Index i = 0; i < held_out->rows(); ++i) ids.insert(static_cast<int>((*held_out)(i, 0)));
    return ids;
  }

  Matrix Rows(const std::set<int>& ids, bool held_out) const {
    Matrix out(held_out ? ids.size() : kRows - ids.size(), pooled.cols());
    Eigen::Index at = 0;
    for (int i = 0; i < kRows; ++i) {
      if (ids.contains(i) == held_out) out.row(at++) = pooled.row(i);
    }
    return out;
  }

  nlohmann::json Run(const std::string& spec) {
    Result<JobSpec> job = ParseJobSpec(nlohmann::json::parse(spec), "job.json");
    REQUIRE_MESSAGE(job.ok(), job.status().ToString());
    Result<nlohmann::json> result = RunJob(*fed, *job);
    REQUIRE_MESSAGE(result.ok(), result.status().ToString());
    return *result;
  }
};

// [1, a, b] for the given rows.
Matrix Design(const Matrix& rows) {
  Matrix x(rows.rows(), 3);
  x.col(0).setOnes();
  x.rightCols(2) = rows.middleCols(1, 2);
  return x;
}

}  // namespace

TEST_CASE("row splits are made at the sites, the same for the same seed") {
  Fixture f;
  const std::set<int> ids = f.HeldOutIds(0.25, 7);
  CHECK(ids.size() > 150);
  CHECK(ids.size() < 250);
  CHECK(f.HeldOutIds(0.25, 7) == ids);
  CHECK(f.HeldOutIds(0.25, 8) != ids);
  CHECK(f.HeldOutIds(0.5, 7).size() > ids.size());
}

TEST_CASE("held-out metrics equal the same metrics computed on the held-out rows") {
  Fixture f;
  // (intercept), a, b from a result's coefficient table, which lists them in that order.
  auto Estimates = [](const nlohmann::json& r) {
    REQUIRE(r["coefficients"].size() == 3);
    CHECK(r["coefficients"][0]["name"] == "(intercept)");
    CHECK(r["coefficients"][2]["name"] == "b");
    return Eigen::Vector3d(r["coefficients"][0]["estimate"].get<double>(),
                           r["coefficients"][1]["estimate"].get<double>(),
                           r["coefficients"][2]["estimate"].get<double>());
  };
  const std::set<int> ids = f.HeldOutIds(0.25, 7);
  const Matrix train = f.Rows(ids, false), test = f.Rows(ids, true);
  constexpr const char* kData = R"("data": {"dataset": "d", "label": "%s", "features": ["a", "b"],
                                             "holdout": {"fraction": 0.25, "seed": 7}})";
  auto data = [&](const char* label) {
    char buf[256];
    std::snprintf(buf, sizeof buf, kData, label);
    return std::string(buf);
  };

  SUBCASE("lm: fitted on the training rows, scored on the others") {
    const nlohmann::json r = f.Run(R"({"algorithm": "lm", )" + data("y") + "}");
    CHECK(r["rows"] == train.rows());
    CHECK(r["held_out"]["rows"] == test.rows());
    const Eigen::Vector3d want = Design(train).colPivHouseholderQr().solve(Eigen::VectorXd(train.col(3)));
    const Eigen::Vector3d got = Estimates(r);
    CHECK((got - want).cwiseAbs().maxCoeff() < 1e-9);
    const Eigen::VectorXd y = test.col(3);
    const Eigen::VectorXd residual = y - Design(test) * got;
    const double r2 = 1 - residual.squaredNorm() / (y.array() - y.mean()).matrix().squaredNorm();
    const double rmse = std::sqrt(residual.squaredNorm() / static_cast<double>(y.size()));
    CHECK(r["held_out"]["metrics"]["r2"].get<double>() == doctest::Approx(r2).epsilon(1e-9));
    CHECK(r["held_out"]["metrics"]["rmse"].get<double>() == doctest::Approx(rmse).epsilon(1e-9));
  }

  SUBCASE("logreg: log-loss and accuracy of the fitted weights on the held-out rows") {
    const nlohmann::json r = f.Run(R"({"algorithm": "logreg", )" + data("cls") + "}");
    CHECK(r["held_out"]["rows"] == test.rows());
    const Eigen::Vector3d w = Estimates(r);
    const Eigen::VectorXd score = Design(test) * w;
    double loss = 0, correct = 0;
    for (Eigen::Index i = 0; i < score.size(); ++i) {
      const double p = 1 / (1 + std::exp(-score(i)));
      const bool label = test(i, 4) == 1;
      loss -= label ? std::log(p) : std::log(1 - p);
      correct += (p >= 0.5) == label;
    }
    const double n = static_cast<double>(score.size());
    CHECK(r["held_out"]["metrics"]["log_loss"].get<double>() == doctest::Approx(loss / n).epsilon(1e-9));
    CHECK(r["held_out"]["metrics"]["accuracy"].get<double>() == doctest::Approx(correct / n).epsilon(1e-12));
  }

  SUBCASE("kmeans: inertia of the fitted centres on the held-out rows") {
    const nlohmann::json r = f.Run(
        R"({"algorithm": "kmeans", "data": {"dataset": "d", "features": ["a", "b"],
            "holdout": {"fraction": 0.25, "seed": 7}}, "params": {"k": 3}})");
    Matrix centers(3, 2);
    for (int c = 0; c < 3; ++c) centers.row(c) << r["centers"][c][0].get<double>(), r["centers"][c][1].get<double>();
    double inertia = 0;
    for (Eigen::Index i = 0; i < test.rows(); ++i) {
      inertia += (centers.rowwise() - test.row(i).segment(1, 2)).rowwise().squaredNorm().minCoeff();
    }
    CHECK(r["held_out"]["metrics"]["inertia"].get<double>() == doctest::Approx(inertia).epsilon(1e-9));
  }
}

TEST_CASE("bad held-out settings are named") {
  auto error = [](const std::string& spec) {
    return ParseJobSpec(nlohmann::json::parse(spec), "job.json").status().message();
  };
  CHECK(error(R"({"algorithm": "lm", "data": {"dataset": "d", "label": "y", "holdout": {"fraction": 1.5}}})")
            .find("data.holdout.fraction") != std::string::npos);
  CHECK(error(R"({"algorithm": "lm", "data": {"dataset": "d", "label": "y", "holdout": {"fraction": 0}}})")
            .find("must be above 0 and below 1") != std::string::npos);
  CHECK(error(R"({"algorithm": "lm", "data": {"dataset": "d", "label": "y", "holdout": {"share": 0.2}}})")
            .find("fraction: required") != std::string::npos);
  CHECK(error(R"({"algorithm": "pca", "data": {"dataset": "d", "holdout": {"fraction": 0.2}}})")
            .find("pca has no held-out metric") != std::string::npos);
}

}  // namespace fedra
