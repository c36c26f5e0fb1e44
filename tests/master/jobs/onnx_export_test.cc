// Saved models exported to ONNX, run by ONNX Runtime (from npm) on R's raw Cars93 rows — text,
// missing cells and all — give what fedra's own predict gives at the sites, and pass Debian's
// onnx.checker: lm and logreg through a transform with dummy coding, imputation and scaling,
// k-means as distances and argmin, and a network.
#include <doctest/doctest.h>

#include <cmath>

#include "common/config.h"
#include "master/jobs/job.h"
#include "master/jobs/saved_model.h"
#include "master/onnx/onnx_export.h"
#include "tests/support/federated_data.h"
#include "tests/support/onnx_runner.h"
#include "tests/support/r_table.h"

namespace fedra {
namespace {

using testing::RTable;

// Cars93's columns as the exported graph takes them: text for coded columns, numbers (null for
// NA) for the rest.
nlohmann::json Inputs(const RTable& t, const std::vector<std::string>& text_columns) {
  nlohmann::json columns = nlohmann::json::object();
  for (size_t j = 0; j < t.columns.size(); ++j) {
    const bool text = std::find(text_columns.begin(), text_columns.end(), t.columns[j]) != text_columns.end();
    nlohmann::json values = nlohmann::json::array();
    for (const std::vector<std::string>& row : t.records) {
      if (text) {
        values.push_back(row[j]);
      } else if (row[j] == "NA" || row[j].empty()) {
        values.push_back(nullptr);
      } else {
        values.push_back(std::stod(row[j]));
      }
    }
    columns[t.columns[j]] = values;
  }
  return columns;
}

struct Exported {
  nlohmann::json onnx;  // ONNX Runtime's outputs
  Matrix fedra;         // fedra's predict, kept at the sites and read back (the data is public)
};

// Trains `spec`, predicts with it at the sites, exports it, checks the file and runs it.
Exported TrainPredictExport(RTable& t, const nlohmann::json& spec, const std::string& name) {
  Result<JobSpec> job = ParseJobSpec(spec, "job.json");
  REQUIRE_MESSAGE(job.ok(), job.status().ToString());
  Result<nlohmann::json> result = RunJob(*t.fed, *job);
  REQUIRE_MESSAGE(result.ok(), result.status().ToString());
  const nlohmann::json model = *SavedModel(*job, *result, 1);
  Result<nlohmann::json> predicted = t.Run(
      {{"algorithm", "predict"}, {"model", model}, {"data", {{"dataset", "cars93"}}}, {"output", {{"dataset", name}}}});
  REQUIRE_MESSAGE(predicted.ok(), predicted.status().ToString());
  Result<FederatedMatrix> kept = FederatedMatrix::Read(*t.fed, name);
  REQUIRE(kept.ok());
  Result<Matrix> values = testing::FetchValues(*t.fed, *kept);
  REQUIRE(values.ok());

  Result<std::string> onnx = ExportOnnx(model);
  REQUIRE_MESSAGE(onnx.ok(), onnx.status().ToString());
  const std::filesystem::path file = t.dir.path() / (name + ".onnx");
  REQUIRE(WriteTextFile(file, *onnx).ok());
  const Status checked = testing::CheckOnnx(file);
  CHECK_MESSAGE(checked.ok(), checked.ToString());
  Result<nlohmann::json> ran =
      testing::RunOnnx(FEDRA_WEB_DEPS, FEDRA_SOURCE_DIR, file, Inputs(t, {"Type", "Origin", "AirBags"}));
  REQUIRE_MESSAGE(ran.ok(), ran.status().ToString());
  return {*ran, *values};
}

// float32 in the graph against doubles at the sites.
void CheckClose(double onnx, double fedra) {
  CHECK(onnx == doctest::Approx(fedra).epsilon(1e-4).scale(1e-4 * (std::abs(fedra) + 1)));
}

TEST_CASE("ONNX export: Cars93's models give fedra's predictions in ONNX Runtime, transform included") {
  const std::string missing = testing::OnnxToolsMissing(FEDRA_WEB_DEPS);
  if (!missing.empty()) {
    MESSAGE("skipped: " << missing);
    return;
  }
  RTable t("cars93", "public");
  // Imputed and scaled columns, those of them a job reads.
  auto transform = [](const std::vector<std::string>& features) {
    const nlohmann::json all = {{"Luggage.room", {{"impute", "mean"}}},
                                {"Rear.seat.room", {{"impute", "median"}}},
                                {"Horsepower", {{"scale", "standard"}}}};
    nlohmann::json out = nlohmann::json::object();
    for (const std::string& f : features) {
      if (all.contains(f)) out[f] = all[f];
    }
    return out;
  };
  const size_t rows = t.records.size();

  SUBCASE("lm: text dummy-coded, missing cells imputed, a column standardised") {
    const Exported e = TrainPredictExport(
        t,
        {{"algorithm", "lm"},
         {"data",
          {{"dataset", "cars93"},
           {"label", "Price"},
           {"features", {"Type", "Origin", "AirBags", "Horsepower", "Luggage.room", "Rear.seat.room"}},
           {"transform", transform({"Horsepower", "Luggage.room", "Rear.seat.room"})}}}},
        "lm_scored");
    REQUIRE(e.onnx["predicted"].size() == rows);
    for (size_t i = 0; i < rows; ++i) CheckClose(e.onnx["predicted"][i], e.fedra(static_cast<Eigen::Index>(i), 0));
  }
  SUBCASE("logreg: the label's classes by name, probabilities and class") {
    const Exported e = TrainPredictExport(t,
                                          {{"algorithm", "logreg"},
                                           {"data",
                                            {{"dataset", "cars93"},
                                             {"label", "Origin"},
                                             {"features", {"Price", "Horsepower", "AirBags", "Luggage.room"}},
                                             {"transform", transform({"Horsepower", "Luggage.room"})}}}},
                                          "logreg_scored");
    REQUIRE(e.onnx["class"].size() == rows);
    int usa = 0;
    for (size_t i = 0; i < rows; ++i) {
      const auto r = static_cast<Eigen::Index>(i);
      CHECK(e.onnx["class"][i] == e.fedra(r, 0));
      CHECK(e.onnx["label"][i] == (e.fedra(r, 0) == 0 ? "USA" : "non-USA"));
      usa += e.onnx["label"][i] == "USA";
      for (int k = 0; k < 2; ++k) CheckClose(e.onnx["probabilities"][2 * i + k], e.fedra(r, 1 + k));
    }
    CHECK(usa > 0);
    CHECK(usa < static_cast<int>(rows));
  }
  SUBCASE("kmeans: squared distances to each centre and the nearest") {
    const Exported e = TrainPredictExport(t,
                                          {{"algorithm", "kmeans"},
                                           {"data",
                                            {{"dataset", "cars93"},
                                             {"features", {"Horsepower", "MPG.city", "Luggage.room"}},
                                             {"transform", transform({"Horsepower", "Luggage.room"})}}},
                                           {"params", {{"k", 3}}}},
                                          "kmeans_scored");
    REQUIRE(e.onnx["cluster"].size() == rows);
    for (size_t i = 0; i < rows; ++i) {
      const auto r = static_cast<Eigen::Index>(i);
      CHECK(e.onnx["cluster"][i] == e.fedra(r, 0));
      CheckClose(e.onnx["distances"][3 * i + static_cast<size_t>(e.fedra(r, 0))], e.fedra(r, 1));
    }
  }
  SUBCASE("nn: a hidden tanh layer and a softmax") {
    const Exported e = TrainPredictExport(t,
                                          {{"algorithm", "nn"},
                                           {"data",
                                            {{"dataset", "cars93"},
                                             {"label", "Origin"},
                                             {"features", {"Type", "Horsepower", "MPG.city", "Luggage.room"}},
                                             {"transform",
                                              [&] {
                                                nlohmann::json t = transform({"Horsepower", "Luggage.room"});
                                                t["Origin"] = {{"coding", "label"}};
                                                return t;
                                              }()}}},
                                           {"model", {{"hidden", {5}}, {"activation", "tanh"}}},
                                           {"ps", {{"rounds", 5}, {"batch_size", 8}}}},
                                          "nn_scored");
    REQUIRE(e.onnx["probabilities"].size() == 2 * rows);
    for (size_t i = 0; i < rows; ++i) {
      const auto r = static_cast<Eigen::Index>(i);
      for (int k = 0; k < 2; ++k) CheckClose(e.onnx["probabilities"][2 * i + k], e.fedra(r, 1 + k));
    }
  }
}

TEST_CASE("ONNX export: what cannot be exported is named") {
  nlohmann::json model = {
      {"format", "fedra-model"},
      {"algorithm", "lm"},
      {"features", {"Temp"}},
      {"label", "Ozone"},
      {"transform",
       {{"Temp",
         {{"bin", {{"method", "equi-height"}, {"bins", 2}, {"edges", {50, 80, 100}}}},
          {"coding", "dummy"},
          {"levels", {"1", "2"}}}}}},
      {"coefficients", {{{"name", "(intercept)"}, {"estimate", 1}}, {{"name", "Temp2"}, {"estimate", 2}}}}};
  Result<std::string> onnx = ExportOnnx(model);
  REQUIRE(!onnx.ok());
  CHECK(onnx.status().message().find("model.transform.Temp: binned columns cannot be exported") != std::string::npos);
  model.erase("features");
  CHECK(ExportOnnx(model).status().message().find("model.features") != std::string::npos);
}

}  // namespace
}  // namespace fedra
