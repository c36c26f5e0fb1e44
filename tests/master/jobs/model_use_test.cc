// Saved models used on new rows at the sites: evaluate against R's metrics of its own model on
// MASS's Pima test sample and against the same computation on the pooled rows; predict into
// datasets the sites keep (and write, where their site.json lets them), under the protection of
// the rows they came from.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include <Eigen/Dense>

#include "common/config.h"
#include "master/jobs/job.h"
#include "master/jobs/saved_model.h"
#include "tests/support/federated_data.h"
#include "tests/support/in_process_federation.h"
#include "tests/support/r_federation.h"
#include "tests/support/r_oracle.h"
#include "tests/support/temp_dir.h"

namespace fedra {
namespace {

using testing::InProcessSites;
using testing::RCase;
using testing::TempDir;

Result<nlohmann::json> RunSpec(Federation& fed, const nlohmann::json& spec) {
  FEDRA_ASSIGN_OR_RETURN(JobSpec job, ParseJobSpec(spec, "job.json"));
  return RunJob(fed, job);
}

// Fits `spec` and returns its saved model.
nlohmann::json Train(Federation& fed, const nlohmann::json& spec) {
  Result<JobSpec> job = ParseJobSpec(spec, "job.json");
  REQUIRE_MESSAGE(job.ok(), job.status().ToString());
  Result<nlohmann::json> result = RunJob(fed, *job);
  REQUIRE_MESSAGE(result.ok(), result.status().ToString());
  std::optional<nlohmann::json> model = SavedModel(*job, *result, 1);
  REQUIRE(model.has_value());
  return *model;
}

nlohmann::json Ok(Result<nlohmann::json> r) {
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  return *r;
}

// MASS's Pima samples at three sites: the training sample as "pima_train", the test sample as
// "pima_test". Sites a and b may write kept datasets into their output folders; c may not.
struct Pima {
  TempDir dir;
  RCase r = testing::LoadRCase("pima_scored", dir.path());
  InProcessSites sites{dir.path() / "sites", {"a", "b", "c"}};
  std::unique_ptr<Federation> fed;
  int64_t train_rows = r.fit["train_rows"];

  explicit Pima(const std::string& privacy, bool allow_scoring = false) {
    const int64_t test_rows = r.data.rows() - train_rows;
    sites.AddSplitCsvDataset("pima_train", r.data.topRows(train_rows), testing::UnevenThreeWaySplit(train_rows),
                             r.columns, privacy);
    sites.AddSplitCsvDataset("pima_test", r.data.bottomRows(test_rows), testing::UnevenThreeWaySplit(test_rows),
                             r.columns, privacy);
    if (allow_scoring) sites.AllowTraining("pima_test");
    sites.AllowTraining("pima_train");
    for (const char* site : {"a", "b"}) {
      sites.EditConfig(site, [](nlohmann::json& c) { c["output_folder"] = "predictions"; });
    }
    sites.StartAll();
    fed = sites.Connect();
  }

  nlohmann::json Model() {
    return Train(*fed, {{"algorithm", "logreg"},
                        {"data", {{"dataset", "pima_train"}, {"label", "type"}}},
                        {"params", {{"tolerance", 1e-12}}}});
  }
};

TEST_CASE("evaluate: a logistic model's metrics on new rows equal R's from its own model, aggregates only") {
  Pima pima("public");
  const nlohmann::json model = pima.Model();
  const nlohmann::json& r = pima.r.fit;
  const nlohmann::json result =
      Ok(RunSpec(*pima.fed, {{"algorithm", "evaluate"}, {"model", model}, {"data", {{"dataset", "pima_test"}}}}));
  const nlohmann::json& m = result["metrics"];
  CHECK(m["rows"] == 332);
  CHECK(result["model"]["algorithm"] == "logreg");
  CHECK(m["log_loss"].get<double>() == doctest::Approx(r["log_loss"].get<double>()).epsilon(1e-7));
  CHECK(m["accuracy"].get<double>() == doctest::Approx(r["accuracy"].get<double>()).epsilon(1e-12));
  CHECK(m["confusion"] == r["confusion"]);
  for (int k = 0; k < 2; ++k) {
    for (const char* metric : {"precision", "recall", "f1"}) {
      CHECK(m["per_class"][metric][k].get<double>() == doctest::Approx(r[metric][k].get<double>()).epsilon(1e-12));
    }
  }
  // The histograms give R's histogram AUC exactly, and the exact AUC to within the ties a bin
  // of width 1/200 makes.
  CHECK(m["roc_auc"].get<double>() == doctest::Approx(r["histogram_auc"].get<double>()).epsilon(1e-12));
  CHECK(std::abs(m["roc_auc"].get<double>() - r["auc"].get<double>()) < 2e-3);
  CHECK(m["roc"]["tpr"].back() == 1.0);
  CHECK(!m.contains("withheld"));
}

TEST_CASE("predict: probabilities stay at the sites as a kept dataset, written as CSV where site.json allows") {
  Pima pima("public");
  const nlohmann::json model = pima.Model();
  const nlohmann::json result = Ok(RunSpec(*pima.fed, {{"algorithm", "predict"},
                                                       {"model", model},
                                                       {"data", {{"dataset", "pima_test"}}},
                                                       {"output", {{"dataset", "pima_scored"}, {"write", true}}}}));
  const nlohmann::json& out = result["output"];
  CHECK(out["columns"] == nlohmann::json{"predicted", "p_0", "p_1"});
  CHECK(out["sites"]["a"]["written"] == "pima_scored.csv");
  CHECK(out["sites"]["c"]["written"].is_null());
  CHECK(out["sites"]["c"]["not_written"] == "site.json names no output_folder");
  // The kept dataset reads like any other (this one is public, so its rows may come back): R's
  // probabilities, row for row in the sites' order.
  Result<FederatedMatrix> kept = FederatedMatrix::Read(*pima.fed, "pima_scored");
  REQUIRE_MESSAGE(kept.ok(), kept.status().ToString());
  Result<Matrix> values = testing::FetchValues(*pima.fed, *kept);
  REQUIRE(values.ok());
  const std::vector<double> p = pima.r.fit["probabilities"];
  REQUIRE(values->rows() == static_cast<Eigen::Index>(p.size()));
  for (Eigen::Index i = 0; i < values->rows(); ++i) {
    CHECK((*values)(i, 2) == doctest::Approx(p[static_cast<size_t>(i)]).epsilon(1e-7));
    CHECK((*values)(i, 0) == ((*values)(i, 2) > 0.5 ? 1 : 0));
    CHECK((*values)(i, 1) + (*values)(i, 2) == doctest::Approx(1).epsilon(1e-12));
  }
  // Site a's file: a header, then its rows, the class by name.
  Result<std::string> csv = ReadTextFile(pima.sites.kit("a") / "predictions" / "pima_scored.csv");
  REQUIRE(csv.ok());
  CHECK(csv->rfind("predicted,p_0,p_1\n", 0) == 0);
  const auto lines = std::count(csv->begin(), csv->end(), '\n');
  CHECK(lines == 1 + kept->map().parts()[0].range.size());
  CHECK(!std::filesystem::exists(pima.sites.kit("c") / "predictions"));
}

TEST_CASE("evaluate and predict keep private-aggregate rows private") {
  SUBCASE("scoring needs the data owner's allow_training, and withholds counts of decisions") {
    Pima refused("private-aggregate");
    const nlohmann::json model = refused.Model();
    const nlohmann::json spec = {{"algorithm", "evaluate"}, {"model", model}, {"data", {{"dataset", "pima_test"}}}};
    Result<nlohmann::json> denied = RunSpec(*refused.fed, spec);
    REQUIRE(!denied.ok());
    CHECK(denied.status().code() == StatusCode::kPermissionDenied);
    CHECK(denied.status().message().find("allow_training") != std::string::npos);

    Pima allowed("private-aggregate", true);
    const nlohmann::json m = Ok(RunSpec(*allowed.fed, spec))["metrics"];
    CHECK(m["log_loss"].get<double>() == doctest::Approx(allowed.r.fit["log_loss"].get<double>()).epsilon(1e-7));
    CHECK(!m.contains("accuracy"));
    CHECK(!m.contains("confusion"));
    CHECK(m["withheld"].get<std::string>().find("rule 4") != std::string::npos);
  }
  SUBCASE("predictions are kept, but neither their rows nor their sums leave") {
    Pima pima("private-aggregate");
    const nlohmann::json model = pima.Model();
    Ok(RunSpec(*pima.fed, {{"algorithm", "predict"},
                           {"model", model},
                           {"data", {{"dataset", "pima_test"}}},
                           {"output", {{"dataset", "pima_scored"}}}}));
    Result<DatasetSchema> schema = ReadSchema(*pima.fed, "pima_scored");
    REQUIRE_MESSAGE(schema.ok(), schema.status().ToString());
    CHECK(schema->columns == std::vector<std::string>{"predicted", "p_0", "p_1"});
    Result<FederatedMatrix> kept = FederatedMatrix::Read(*pima.fed, "pima_scored");
    REQUIRE(kept.ok());
    Result<Matrix> rows = testing::FetchValues(*pima.fed, *kept);
    REQUIRE(!rows.ok());
    CHECK(rows.status().message().find("row-level values may not leave") != std::string::npos);
    Result<Matrix> sums = kept->ColSums(*pima.fed);
    REQUIRE(!sums.ok());
    CHECK(sums.status().message().find("mix several of its columns") != std::string::npos);
  }
}

// y - X b on pooled rows, for the regression metrics.
Eigen::VectorXd Residuals(const RCase& r, const std::string& label, const nlohmann::json& model) {
  Eigen::VectorXd e = r.data.col(r.column(label));
  for (const nlohmann::json& c : model["coefficients"]) {
    const std::string name = c["name"];
    if (name == "(intercept)") {
      e.array() -= c["estimate"].get<double>();
    } else {
      e -= c["estimate"].get<double>() * r.data.col(r.column(name));
    }
  }
  return e;
}

TEST_CASE("evaluate: regression, k-means and PCA metrics equal the pooled computation and R's fit") {
  SUBCASE("lm on Boston: R² is summary.lm's; RMSE and MAE those of the pooled residuals") {
    testing::RFederation boston("boston", "public");
    const nlohmann::json model =
        Train(*boston.fed, {{"algorithm", "lm"}, {"data", {{"dataset", "boston"}, {"label", "medv"}}}});
    const nlohmann::json m = Ok(RunSpec(
        *boston.fed, {{"algorithm", "evaluate"}, {"model", model}, {"data", {{"dataset", "boston"}}}}))["metrics"];
    const Eigen::VectorXd e = Residuals(boston.r, "medv", model);
    const double n = static_cast<double>(e.size());
    CHECK(m["r2"].get<double>() == doctest::Approx(boston.r.fit["r2"].get<double>()).epsilon(1e-9));
    CHECK(m["rmse"].get<double>() == doctest::Approx(std::sqrt(e.squaredNorm() / n)).epsilon(1e-12));
    CHECK(m["mae"].get<double>() == doctest::Approx(e.cwiseAbs().sum() / n).epsilon(1e-12));
  }
  SUBCASE("k-means and PCA on USArrests: inertia and sizes of the pooled rows; prcomp's variances") {
    testing::RFederation arrests("usarrests", "public");
    const nlohmann::json kmeans =
        Train(*arrests.fed, {{"algorithm", "kmeans"}, {"data", {{"dataset", "usarrests"}}}, {"params", {{"k", 4}}}});
    const nlohmann::json m = Ok(RunSpec(
        *arrests.fed, {{"algorithm", "evaluate"}, {"model", kmeans}, {"data", {{"dataset", "usarrests"}}}}))["metrics"];
    Matrix centres(4, 4);
    for (int c = 0; c < 4; ++c) {
      for (int j = 0; j < 4; ++j) centres(c, j) = kmeans["centers"][c][j];
    }
    double inertia = 0;
    Eigen::VectorXd sizes = Eigen::VectorXd::Zero(4);
    for (Eigen::Index i = 0; i < arrests.r.data.rows(); ++i) {
      Eigen::Index best = 0;
      inertia += (centres.rowwise() - arrests.r.data.row(i)).rowwise().squaredNorm().minCoeff(&best);
      sizes(best) += 1;
    }
    CHECK(m["inertia"].get<double>() == doctest::Approx(inertia).epsilon(1e-12));
    CHECK(m["inertia"].get<double>() == doctest::Approx(arrests.r.fit["inertia"].get<double>()).epsilon(1e-9));
    for (int c = 0; c < 4; ++c) CHECK(m["sizes"][c].get<double>() == sizes(c));

    const nlohmann::json pca =
        Train(*arrests.fed, {{"algorithm", "pca"}, {"data", {{"dataset", "usarrests"}}}, {"params", {{"k", 2}}}});
    const nlohmann::json v = Ok(RunSpec(
        *arrests.fed, {{"algorithm", "evaluate"}, {"model", pca}, {"data", {{"dataset", "usarrests"}}}}))["metrics"];
    const std::vector<double> variances = arrests.r.fit["pca"]["variances"];
    const double total = std::accumulate(variances.begin(), variances.end(), 0.0);
    CHECK(v["total_variance"].get<double>() == doctest::Approx(total).epsilon(1e-9));
    for (int k = 0; k < 2; ++k) {
      CHECK(v["variances"][k].get<double>() == doctest::Approx(variances[static_cast<size_t>(k)]).epsilon(1e-9));
      CHECK(v["explained_variance_ratio"][k].get<double>() ==
            doctest::Approx(variances[static_cast<size_t>(k)] / total).epsilon(1e-9));
    }
  }
}

TEST_CASE("evaluate: a softmax network's log-loss and accuracy equal its forward pass on the pooled rows") {
  Pima pima("public");
  const nlohmann::json model = Train(*pima.fed, {{"algorithm", "nn"},
                                                 {"data", {{"dataset", "pima_train"}, {"label", "type"}}},
                                                 {"model", {{"hidden", nlohmann::json::array()}, {"input_scale", 100}}},
                                                 {"optimizer", {{"name", "sgd"}, {"lr", 0.05}}},
                                                 {"ps", {{"rounds", 3}}}});
  const nlohmann::json m = Ok(RunSpec(
      *pima.fed, {{"algorithm", "evaluate"}, {"model", model}, {"data", {{"dataset", "pima_test"}}}}))["metrics"];
  // One layer: W (2 x 7, column-major) then b, on inputs / 100.
  const std::vector<float> p = model["parameters"];
  REQUIRE(p.size() == 16);
  const Matrix test = pima.r.data.bottomRows(pima.r.data.rows() - pima.train_rows);
  double loss = 0, correct = 0;
  for (Eigen::Index i = 0; i < test.rows(); ++i) {
    double logits[2];
    for (int k = 0; k < 2; ++k) {
      logits[k] = p[static_cast<size_t>(14 + k)];
      for (int j = 0; j < 7; ++j) logits[k] += p[static_cast<size_t>(j * 2 + k)] * test(i, j) / 100.0;
    }
    const auto truth = static_cast<int>(test(i, 7));
    const double top = std::max(logits[0], logits[1]);
    loss += top + std::log(std::exp(logits[0] - top) + std::exp(logits[1] - top)) - logits[truth];
    correct += (logits[1] > logits[0] ? 1 : 0) == truth;
  }
  CHECK(m["log_loss"].get<double>() == doctest::Approx(loss / test.rows()).epsilon(1e-5));
  CHECK(m["accuracy"].get<double>() == doctest::Approx(correct / test.rows()).epsilon(1e-12));
}

TEST_CASE("evaluate and predict: wrong models, data and outputs are clear errors") {
  Pima pima("public");
  const nlohmann::json model = pima.Model();
  auto error = [&](const nlohmann::json& spec) {
    Result<nlohmann::json> r = RunSpec(*pima.fed, spec);
    REQUIRE(!r.ok());
    return r.status().message();
  };
  CHECK(error({{"algorithm", "evaluate"}, {"model", {{"algorithm", "lm"}}}, {"data", {{"dataset", "pima_test"}}}})
            .find("\"format\": \"fedra-model\"") != std::string::npos);
  nlohmann::json numbered = model;
  numbered["label"] = 5;
  CHECK(error({{"algorithm", "evaluate"}, {"model", numbered}, {"data", {{"dataset", "pima_test"}}}})
            .find("model.label: expected a name") != std::string::npos);
  numbered = model;
  numbered["features"] = {1, 2};
  CHECK(error({{"algorithm", "evaluate"}, {"model", numbered}, {"data", {{"dataset", "pima_test"}}}})
            .find("model.features: expected an array of names") != std::string::npos);
  nlohmann::json renamed = model;
  renamed["features"][0] = "pregnancies";
  CHECK(error({{"algorithm", "evaluate"}, {"model", renamed}, {"data", {{"dataset", "pima_test"}}}})
            .find("lacks the model's column(s) pregnancies") != std::string::npos);
  CHECK(error({{"algorithm", "predict"}, {"model", model}, {"data", {{"dataset", "pima_test"}}}})
            .find("output: required") != std::string::npos);
  CHECK(error({{"algorithm", "predict"},
               {"model", model},
               {"data", {{"dataset", "pima_test"}}},
               {"output", {{"dataset", "pima_train"}}}})
            .find("is a dataset of the site's catalog") != std::string::npos);
  CHECK(error({{"algorithm", "predict"},
               {"model", model},
               {"data", {{"dataset", "pima_test"}}},
               {"output", {{"dataset", "../x"}}}})
            .find("not a dataset name") != std::string::npos);
}

std::string Analysis(const std::string& name) {
  std::ifstream in(std::string(FEDRA_SOURCE_DIR) + "/analyses/" + name);
  std::stringstream text;
  text << in.rdbuf();
  REQUIRE_FALSE(text.str().empty());
  return text.str();
}

// Runs a script job and returns the models it declared, as the run saves them.
std::map<std::string, nlohmann::json> ScriptModels(Federation& fed, const nlohmann::json& spec) {
  Result<JobSpec> job = ParseJobSpec(spec, "job.json");
  REQUIRE_MESSAGE(job.ok(), job.status().ToString());
  Result<nlohmann::json> result = RunJob(fed, *job);
  REQUIRE_MESSAGE(result.ok(), result.status().ToString());
  return SavedModels(*job, *result, 3);
}

std::string ColumnsBut(const RCase& r, const std::string& label) {
  std::string list;
  for (const std::string& c : r.columns) {
    if (c != label) list += (list.empty() ? "" : ",") + c;
  }
  return list;
}

TEST_CASE("scripts declare models with save_model: the shipped analyses' fits evaluate as the built-ins' do") {
  SUBCASE("lm.dml on Boston: the declared model's R² is R's and its RMSE the built-in model's") {
    testing::RFederation boston("boston", "public");
    const std::map<std::string, nlohmann::json> models = ScriptModels(
        *boston.fed, {{"script", Analysis("lm.dml")},
                      {"args", {{"X", "boston:" + ColumnsBut(boston.r, "medv")}, {"y", "boston:medv"}, {"out", "b"}}}});
    REQUIRE(models.contains("model"));
    const nlohmann::json& declared = models.at("model");
    CHECK(declared["algorithm"] == "lm");
    CHECK(declared["dataset"] == "boston");
    CHECK(declared["label"] == "medv");
    CHECK(declared["run_id"] == 3);
    CHECK(declared["coefficients"][0]["name"] == "(intercept)");
    const nlohmann::json builtin =
        Train(*boston.fed, {{"algorithm", "lm"}, {"data", {{"dataset", "boston"}, {"label", "medv"}}}});
    auto evaluate = [&](const nlohmann::json& model) {
      return Ok(RunSpec(*boston.fed,
                        {{"algorithm", "evaluate"}, {"model", model}, {"data", {{"dataset", "boston"}}}}))["metrics"];
    };
    const nlohmann::json m = evaluate(declared), b = evaluate(builtin);
    CHECK(m["r2"].get<double>() == doctest::Approx(boston.r.fit["r2"].get<double>()).epsilon(1e-8));
    CHECK(m["rmse"].get<double>() == doctest::Approx(b["rmse"].get<double>()).epsilon(1e-8));
    CHECK(m["mae"].get<double>() == doctest::Approx(b["mae"].get<double>()).epsilon(1e-8));
  }
  SUBCASE("logreg.dml on Pima: the declared model scores the test sample as the built-in's does") {
    Pima pima("public");
    const std::string features = "pima_train:" + ColumnsBut(pima.r, "type");
    const std::map<std::string, nlohmann::json> models =
        ScriptModels(*pima.fed, {{"script", Analysis("logreg.dml")},
                                 {"args", {{"X", features}, {"y", "pima_train:type"}, {"out", "w"}, {"tol", 1e-12}}}});
    REQUIRE(models.contains("model"));
    const nlohmann::json& declared = models.at("model");
    CHECK(declared["classes"] == nlohmann::json::array({"0", "1"}));
    auto evaluate = [&](const nlohmann::json& model) {
      return Ok(RunSpec(
          *pima.fed, {{"algorithm", "evaluate"}, {"model", model}, {"data", {{"dataset", "pima_test"}}}}))["metrics"];
    };
    const nlohmann::json m = evaluate(declared), b = evaluate(pima.Model());
    CHECK(m["log_loss"].get<double>() == doctest::Approx(b["log_loss"].get<double>()).epsilon(1e-8));
    CHECK(m["accuracy"].get<double>() == b["accuracy"].get<double>());
    CHECK(m["roc_auc"].get<double>() == doctest::Approx(b["roc_auc"].get<double>()).epsilon(1e-8));
  }
  SUBCASE("kmeans.dml on USArrests: the declared centres give the inertia of the pooled rows") {
    testing::RFederation arrests("usarrests", "public");
    const std::map<std::string, nlohmann::json> models =
        ScriptModels(*arrests.fed, {{"script", Analysis("kmeans.dml")},
                                    {"args",
                                     {{"X", "usarrests:" + ColumnsBut(arrests.r, "")},
                                      {"k", 2},
                                      {"C", "10 100 50 10 5 250 70 30"},
                                      {"out", "C"}}}});
    REQUIRE(models.contains("model"));
    const nlohmann::json& declared = models.at("model");
    REQUIRE(declared["centers"].size() == 2);
    Matrix centres(2, 4);
    for (int c = 0; c < 2; ++c) {
      for (int j = 0; j < 4; ++j) centres(c, j) = declared["centers"][c][j];
    }
    double inertia = 0;
    for (Eigen::Index i = 0; i < arrests.r.data.rows(); ++i)
      inertia += (centres.rowwise() - arrests.r.data.row(i)).rowwise().squaredNorm().minCoeff();
    const nlohmann::json m =
        Ok(RunSpec(*arrests.fed,
                   {{"algorithm", "evaluate"}, {"model", declared}, {"data", {{"dataset", "usarrests"}}}}))["metrics"];
    CHECK(m["inertia"].get<double>() == doctest::Approx(inertia).epsilon(1e-12));
  }
  SUBCASE("declarations that do not make a usable model fail the script, naming what is wrong") {
    testing::RFederation boston("boston", "public");
    auto fails = [&](const std::string& script, const std::string& expected) {
      CAPTURE(script);
      Result<nlohmann::json> r = RunSpec(*boston.fed, {{"script", script}});
      REQUIRE_FALSE(r.ok());
      CHECK_MESSAGE(r.status().message().find(expected) != std::string::npos, r.status().message());
    };
    fails("save_model(matrix(1, 3, 1), \"lm\", \"boston:crim,zn\", \"boston:medv\")",
          "2 features need a 2 x 1 matrix of coefficients, not 3 x 1");
    fails("save_model(matrix(1, 2, 1), \"svm\", \"crim,zn\", \"medv\")", "'svm' cannot be declared");
    fails("save_model(matrix(0 / 0, 2, 1), \"lm\", \"crim,zn\", \"medv\")", "NaN");
    fails("save_model(matrix(1, 2, 1), \"lm\", \"crim,zn\")", "lm needs its label");
    fails("save_model(matrix(1, 2, 1), \"lm\", \"boston:crim,zn\", \"other:medv\")", "'boston', the label of 'other'");
    fails("X = read(\"boston\")\nsave_model(X, \"kmeans\", \"crim\")", "a local matrix");
    fails("save_model(matrix(1, 2, 1), \"lm\", \"crim,,zn\", \"medv\")", "an empty column name");
    fails("save_model(matrix(1, 2, 1), \"lm\", \"crim,zn\", \"medv\", name=\"../x\")", "not a model name");
    fails("for (i in 1:17) save_model(matrix(i, 1, 1), \"kmeans\", \"crim\", name=\"m\" + i)", "more than 16 models");
  }
}

}  // namespace
}  // namespace fedra
