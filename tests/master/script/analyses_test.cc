// The analyses that ship with fedra (analyses/*.dml), each run over real data from R split over
// three sites and checked against R's fit and against its built-in twin on the same federation.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "master/algorithms/kmeans.h"
#include "master/algorithms/lm.h"
#include "master/algorithms/logreg.h"
#include "master/algorithms/pca.h"
#include "master/script/interpreter.h"
#include "tests/support/r_federation.h"

namespace fedra::script {
namespace {

struct AnalysisRun {
  std::map<std::string, std::string> written;
  std::vector<std::string> printed;
  int64_t batches = 0;
};

AnalysisRun RunAnalysis(Federation& fed, const std::string& name, std::map<std::string, std::string> args) {
  std::ifstream in(std::string(FEDRA_SOURCE_DIR) + "/analyses/" + name);
  std::stringstream text;
  text << in.rdbuf();
  REQUIRE_FALSE(text.str().empty());
  AnalysisRun run;
  ScriptOptions options;
  options.args = std::move(args);
  options.io.print = [&](const std::string& line) {
    run.printed.push_back(line);
    return Status::Ok();
  };
  options.io.write = [&](const std::string& target, const std::string& out) {
    run.written[target] = out;
    return Status::Ok();
  };
  Result<ScriptReport> report = RunScript(fed, text.str(), options);
  REQUIRE_MESSAGE(report.ok(), report.status().message());
  run.batches = report->batches;
  return run;
}

Matrix FromCsv(const std::string& text) {
  std::vector<std::vector<double>> rows;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    rows.emplace_back();
    std::istringstream cells(line);
    for (std::string cell; std::getline(cells, cell, ',');) rows.back().push_back(std::stod(cell));
  }
  Matrix m(static_cast<Eigen::Index>(rows.size()), rows.empty() ? 0 : static_cast<Eigen::Index>(rows[0].size()));
  for (size_t i = 0; i < rows.size(); ++i) {
    for (size_t j = 0; j < rows[i].size(); ++j)
      m(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) = rows[i][j];
  }
  return m;
}

// "dataset:a,b,c" for R's case's columns but `label` (all when empty).
std::string Columns(const testing::RFederation& f, const std::string& dataset, const std::string& label = "") {
  std::string spec = dataset + ":";
  bool first = true;
  for (const std::string& c : f.r.columns) {
    if (c == label) continue;
    spec += (first ? "" : ",") + c;
    first = false;
  }
  return spec;
}

TEST_CASE("lm.dml gives R's lm and the built-in lm on Boston's unscaled columns") {
  testing::RFederation f("boston", "public");
  const AnalysisRun run =
      RunAnalysis(*f.fed, "lm.dml", {{"X", Columns(f, "boston", "medv")}, {"y", "boston:medv"}, {"out", "beta"}});
  CHECK(run.batches == 1);
  const Matrix beta = FromCsv(run.written.at("beta"));
  const std::vector<double> estimate = f.r.fit["coefficients"]["estimate"];
  REQUIRE(beta.rows() == static_cast<Eigen::Index>(estimate.size()));
  Result<LmModel> builtin = FitLm(*f.fed, *f.data, f.r.features_except("medv"), f.r.column("medv"), LmOptions{});
  REQUIRE(builtin.ok());
  for (size_t j = 0; j < estimate.size(); ++j) {
    CAPTURE(f.r.fit["coefficients"]["names"][j]);
    const auto i = static_cast<Eigen::Index>(j);
    CHECK(beta(i, 0) == doctest::Approx(estimate[j]).epsilon(1e-6));
    CHECK(beta(i, 0) == doctest::Approx(builtin->coefficients(i)).epsilon(1e-6));
  }
}

TEST_CASE("logreg.dml gives R's glm and the built-in logreg on the biopsy data") {
  testing::RFederation f("biopsy", "public");
  const AnalysisRun run =
      RunAnalysis(*f.fed, "logreg.dml", {{"X", Columns(f, "biopsy", "class")}, {"y", "biopsy:class"}, {"out", "w"}});
  const Matrix w = FromCsv(run.written.at("w"));
  const std::vector<double> estimate = f.r.fit["coefficients"]["estimate"];
  REQUIRE(w.rows() == static_cast<Eigen::Index>(estimate.size()));
  Result<LogRegModel> builtin =
      FitLogReg(*f.fed, *f.data, f.r.features_except("class"), f.r.column("class"), LogRegOptions{});
  REQUIRE(builtin.ok());
  for (size_t j = 0; j < estimate.size(); ++j) {
    const auto i = static_cast<Eigen::Index>(j);
    CHECK(w(i, 0) == doctest::Approx(estimate[j]).epsilon(1e-6));
    CHECK(w(i, 0) == doctest::Approx(builtin->weights(i, 0)).epsilon(1e-6));
  }
  // Newton's method: a handful of iterations, one federated step each, and the setup's none.
  CHECK(run.batches <= builtin->iterations + 2);
}

TEST_CASE("kmeans.dml follows the built-in k-means from the same centres on USArrests") {
  testing::RFederation f("usarrests", "public");
  // Four rows of the data as starting centres.
  const Matrix start = f.r.data({0, 10, 20, 30}, Eigen::all);
  std::string centres;
  for (Eigen::Index i = 0; i < start.rows(); ++i) {
    for (Eigen::Index j = 0; j < start.cols(); ++j) centres += std::to_string(start(i, j)) + " ";
  }
  const Matrix exact = FromCsv([&] {
    std::string csv;
    for (Eigen::Index i = 0; i < start.rows(); ++i) {
      for (Eigen::Index j = 0; j < start.cols(); ++j) csv += (j ? "," : "") + std::to_string(start(i, j));
      csv += "\n";
    }
    return csv;
  }());
  const AnalysisRun run =
      RunAnalysis(*f.fed, "kmeans.dml", {{"X", Columns(f, "usarrests")}, {"k", "4"}, {"C", centres}, {"out", "C"}});
  const Matrix c = FromCsv(run.written.at("C"));
  KMeansOptions options;
  options.k = 4;
  options.initial_centers = exact;
  Result<KMeansModel> builtin = FitKMeans(*f.fed, *f.data, options);
  REQUIRE(builtin.ok());
  REQUIRE(c.rows() == 4);
  CHECK((c - builtin->centers).cwiseAbs().maxCoeff() < 1e-9 * builtin->centers.cwiseAbs().maxCoeff());
  REQUIRE(run.printed.size() == 1);
  const double inertia = std::stod(run.printed[0].substr(run.printed[0].rfind(' ') + 1));
  CHECK(inertia == doctest::Approx(builtin->inertia).epsilon(1e-6));
  // One federated step per Lloyd iteration (the first also sums X ^ 2); the built-in counts one
  // more to see that nothing moved.
  CHECK(run.batches >= 2);
  CHECK(run.batches <= builtin->iterations);
}

TEST_CASE("pca.dml gives prcomp's variances and rotation, and the built-in pca, on USArrests") {
  testing::RFederation f("usarrests", "public");
  const AnalysisRun run = RunAnalysis(
      *f.fed, "pca.dml", {{"X", Columns(f, "usarrests")}, {"k", "4"}, {"components", "V"}, {"variances", "v"}});
  CHECK(run.batches == 1);
  const Matrix components = FromCsv(run.written.at("V")), variances = FromCsv(run.written.at("v"));
  Result<PcaModel> builtin = FitPca(*f.fed, *f.data, PcaOptions{.components = 4});
  REQUIRE(builtin.ok());
  const std::vector<double> r_variances = f.r.fit["pca"]["variances"];
  const std::vector<std::vector<double>> rotation = f.r.fit["pca"]["rotation"];
  for (size_t c = 0; c < r_variances.size(); ++c) {
    const auto k = static_cast<Eigen::Index>(c);
    CHECK(variances(k, 0) == doctest::Approx(r_variances[c]).epsilon(1e-9));
    CHECK(variances(k, 0) == doctest::Approx(builtin->variances(k)).epsilon(1e-9));
    double dot = 0;
    for (size_t j = 0; j < rotation.size(); ++j) dot += components(static_cast<Eigen::Index>(j), k) * rotation[j][c];
    CHECK(std::abs(dot) == doctest::Approx(1).epsilon(1e-9));
    CHECK(std::abs(components.col(k).dot(builtin->components.col(k))) == doctest::Approx(1).epsilon(1e-9));
  }
}

}  // namespace
}  // namespace fedra::script
