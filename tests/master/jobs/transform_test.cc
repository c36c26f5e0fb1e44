// Federated transforms on real tables with text columns and missing values (R's Cars93 and
// airquality), split over three sites that each hold the columns in their own order: lm and
// logreg on the encoded rows give what R's lm and glm give on R's own encoding of the pooled
// table (imputed by R, coded by model.matrix). And the privacy rules of fitting a transform at
// private-aggregate sites.
#include <doctest/doctest.h>

#include <fstream>

#include "common/csv_reader.h"
#include "master/jobs/job.h"
#include "master/jobs/saved_model.h"
#include "master/tensor/federated_transform.h"
#include "tests/support/in_process_federation.h"
#include "tests/support/r_oracle.h"
#include "tests/support/r_table.h"
#include "tests/support/temp_dir.h"

namespace fedra {
namespace {

using testing::InProcessSites;
using testing::TempDir;

using testing::RTable;

// Every coefficient R reports, by name, equals fedra's within `tolerance` (relative).
void CheckCoefficients(const nlohmann::json& result, const nlohmann::json& r, double tolerance) {
  const nlohmann::json& rows = result["coefficients"];
  const nlohmann::json& want = r["coefficients"];
  REQUIRE(rows.size() == want["names"].size());
  for (size_t j = 0; j < rows.size(); ++j) {
    std::string name = want["names"][j];
    if (name == "(Intercept)") name = "(intercept)";
    CAPTURE(name);
    CHECK(rows[j]["name"] == name);  // R's model.matrix names and order
    CHECK(rows[j]["estimate"].get<double>() ==
          doctest::Approx(want["estimate"][j].get<double>()).epsilon(tolerance).scale(0));
    CHECK(rows[j]["std_error"].get<double>() ==
          doctest::Approx(want["std_error"][j].get<double>()).epsilon(tolerance).scale(0));
  }
}

TEST_CASE("Cars93 at three sites: dummy coding and imputation give R's lm and glm") {
  RTable t("cars93", "public");
  // Type, Origin and AirBags hold text: dummy-coded unless the transform says otherwise.
  const nlohmann::json lm_job = {
      {"algorithm", "lm"},
      {"data",
       {{"dataset", "cars93"},
        {"label", "Price"},
        {"features", {"Type", "Origin", "AirBags", "Horsepower", "Luggage.room", "Rear.seat.room"}},
        {"transform", {{"Luggage.room", {{"impute", "mean"}}}, {"Rear.seat.room", {{"impute", "median"}}}}}}}};
  Result<nlohmann::json> lm = t.Run(lm_job);
  REQUIRE_MESSAGE(lm.ok(), lm.status().ToString());
  CheckCoefficients(*lm, t.r["lm"], 1e-8);
  CHECK((*lm)["rows"] == 93);
  const nlohmann::json& fitted = (*lm)["transform"];
  CHECK(fitted["Type"]["levels"] == nlohmann::json{"Compact", "Large", "Midsize", "Small", "Sporty", "Van"});
  CHECK(fitted["Type"]["coding"] == "dummy");
  CHECK(fitted["Rear.seat.room"]["impute"]["value"] == 27.5);  // R: median(Cars93$Rear.seat.room, na.rm = TRUE)

  // The fitted transform given back is applied as it is: the same model, no statistics asked.
  const size_t asked = t.Describes();
  nlohmann::json again = lm_job;
  again["data"]["transform"] = fitted;
  Result<nlohmann::json> refit = t.Run(again);
  REQUIRE_MESSAGE(refit.ok(), refit.status().ToString());
  CHECK(t.Describes() == asked);
  CHECK((*refit)["coefficients"] == (*lm)["coefficients"]);

  // The saved model holds what using it needs: the raw columns in order, the label, the fitted
  // transform, and the encoded inputs the coefficients are for.
  Result<JobSpec> spec = ParseJobSpec(lm_job, "job.json");
  REQUIRE(spec.ok());
  const std::optional<nlohmann::json> saved = SavedModel(*spec, *lm, 5);
  REQUIRE(saved.has_value());
  CHECK((*saved)["format"] == "fedra-model");
  CHECK((*saved)["run_id"] == 5);
  CHECK((*saved)["features"] == lm_job["data"]["features"]);
  CHECK((*saved)["label"] == "Price");
  CHECK((*saved)["transform"] == fitted);
  REQUIRE((*saved)["inputs"].size() + 1 == (*lm)["coefficients"].size());
  for (size_t j = 0; j < (*saved)["inputs"].size(); ++j) {
    CHECK((*saved)["inputs"][j] == (*lm)["coefficients"][j + 1]["name"]);
  }

  // Used on data with its own transform (text coded, missing cells imputed as fitted), the
  // model scores R's R² on the rows it was fitted on.
  Result<nlohmann::json> scored =
      t.Run({{"algorithm", "evaluate"}, {"model", *saved}, {"data", {{"dataset", "cars93"}}}});
  REQUIRE_MESSAGE(scored.ok(), scored.status().ToString());
  CHECK((*scored)["metrics"]["r2"].get<double>() == doctest::Approx(t.r["lm"]["r2"].get<double>()).epsilon(1e-9));

  // Origin ("USA", "non-USA") as a logreg label: coded in sorted order, the first the reference.
  Result<nlohmann::json> glm = t.Run({{"algorithm", "logreg"},
                                      {"data",
                                       {{"dataset", "cars93"},
                                        {"label", "Origin"},
                                        {"features", {"Price", "Horsepower", "MPG.city", "AirBags", "Luggage.room"}},
                                        {"transform", {{"Luggage.room", {{"impute", "mean"}}}}}}}});
  REQUIRE_MESSAGE(glm.ok(), glm.status().ToString());
  CHECK((*glm)["classes"] == nlohmann::json{"USA", "non-USA"});
  Result<JobSpec> glm_spec =
      ParseJobSpec({{"algorithm", "logreg"}, {"data", {{"dataset", "cars93"}, {"label", "Origin"}}}}, "job.json");
  REQUIRE(glm_spec.ok());
  const nlohmann::json glm_model = *SavedModel(*glm_spec, *glm, 6);
  CHECK(glm_model["classes"] == nlohmann::json{"USA", "non-USA"});
  // The label is coded by the saved transform too: the mean log-loss is R's deviance / 2n.
  Result<nlohmann::json> glm_scored =
      t.Run({{"algorithm", "evaluate"}, {"model", glm_model}, {"data", {{"dataset", "cars93"}}}});
  REQUIRE_MESSAGE(glm_scored.ok(), glm_scored.status().ToString());
  CHECK((*glm_scored)["metrics"]["log_loss"].get<double>() ==
        doctest::Approx(t.r["glm"]["deviance"].get<double>() / (2 * 93)).epsilon(1e-7));
  CheckCoefficients(*glm, t.r["glm"], 1e-6);
  CHECK((*glm)["summary"]["deviance"].get<double>() ==
        doctest::Approx(t.r["glm"]["deviance"].get<double>()).epsilon(1e-8));
}

TEST_CASE("nn regression on Cars93 learns once its features and label are standardised") {
  RTable t("cars93", "public");
  nlohmann::json job = nlohmann::json::parse(R"({"algorithm": "nn", "data": {"dataset": "cars93", "label": "Price",
      "features": ["Horsepower", "MPG.city", "Type", "Luggage.room"],
      "transform": {"Luggage.room": {"impute": "mean", "scale": "standard"}, "Horsepower": {"scale": "standard"},
                    "MPG.city": {"scale": "standard"}, "Price": {"scale": "standard"}}},
      "model": {"hidden": [8], "activation": "relu", "output": "linear"},
      "optimizer": {"name": "sgd", "lr": 0.05},
      "ps": {"strategy": "bsp", "frequency": "epoch", "epochs": 40, "batch_size": 8, "seed": 3}})");
  Result<nlohmann::json> scaled = t.Run(job);
  REQUIRE_MESSAGE(scaled.ok(), scaled.status().ToString());
  // The label's variance is 1 after standardising: predicting its mean would score about that.
  const double loss = (*scaled)["metrics"]["loss"];
  CHECK(loss < 0.5);
  CHECK((*scaled)["transform"]["Price"]["scale"]["divisor"].get<double>() > 9);  // R: sd(Cars93$Price) = 9.66
}

TEST_CASE("airquality at three sites: median imputation, a numeric category, scaling and equi-height bins") {
  RTable t("airquality", "public");
  Result<nlohmann::json> lm = t.Run(nlohmann::json::parse(R"({"algorithm": "lm", "data": {
      "dataset": "airquality", "label": "Ozone",
      "transform": {"Solar.R": {"impute": "median"}, "Wind": {"scale": "standard"},
                    "Temp": {"bin": {"method": "equi-height", "bins": 4}, "coding": "dummy"},
                    "Month": {"coding": "dummy"}}}})"));
  REQUIRE_MESSAGE(lm.ok(), lm.status().ToString());
  CheckCoefficients(*lm, t.r, 1e-8);
  const nlohmann::json& fitted = (*lm)["transform"];
  // The federated search finds R's median and quantiles exactly, from bin counts alone.
  CHECK(fitted["Solar.R"]["impute"]["value"].get<double>() == t.r["solar_median"].get<double>());
  const std::vector<double> edges = fitted["Temp"]["bin"]["edges"], want = t.r["temp_edges"];
  REQUIRE(edges.size() == want.size());
  for (size_t i = 0; i < edges.size(); ++i) CHECK(edges[i] == doctest::Approx(want[i]).epsilon(1e-12));
  // Month holds numbers, coded as categories in numeric order.
  CHECK(fitted["Month"]["levels"] == nlohmann::json{"5", "6", "7", "8", "9"});
}

// Site a holds two categories 3 and 8 times, each fewer than the minimum of ten rows; b and c
// never.
struct RareCategory {
  TempDir dir;
  InProcessSites sites{dir.path(), {"a", "b", "c"}};

  explicit RareCategory(const std::string& policy) {
    for (const std::string& site : sites.sites()) {
      std::string csv = "y,x,colour,zip\n";
      for (int i = 0; i < 80; ++i) {
        const bool rare = site == "a" && i < 11;
        const std::string colour = rare ? (i < 3 ? "mauve" : "teal") : (i % 2 ? "red" : "blue");
        csv += std::to_string(i % 7 + (i % 2) * 3) + "," + std::to_string(i) + "," + colour + "," +
               std::to_string(10000 + i % 4) + "\n";
      }
      testing::WriteFile(sites.kit(site) / "people.csv", csv);
      sites.AddDataset(site, "people", "people.csv", "private-aggregate");
      sites.EditConfig(site, [&](nlohmann::json& c) {
        c["datasets"]["people"]["rare_categories"] = policy;
        c["datasets"]["people"]["types"] = {{"zip", "categorical"}};  // numbers, but a category
      });
    }
    sites.StartAll();
  }
};

Result<nlohmann::json> RunText(Federation& fed, const std::string& spec) {
  Result<JobSpec> job = ParseJobSpec(nlohmann::json::parse(spec), "job.json");
  if (!job.ok()) return job.status();
  return RunJob(fed, *job);
}

TEST_CASE("a category a private-aggregate site holds rarely is fitted as \"(other)\", never by name") {
  RareCategory s("other");
  std::unique_ptr<Federation> fed = s.sites.Connect();
  // The owner declared zip a category, though its cells are numbers.
  Result<DatasetSchema> schema = ReadSchema(*fed, "people");
  REQUIRE(schema.ok());
  CHECK(schema->types.at("zip") == "categorical");
  CHECK(schema->types.at("x") == "numeric");

  Result<nlohmann::json> lm =
      RunText(*fed, R"({"algorithm": "lm", "data": {"dataset": "people", "label": "y", "features": ["x", "colour"]}})");
  REQUIRE_MESSAGE(lm.ok(), lm.status().ToString());
  const nlohmann::json& fitted = (*lm)["transform"];
  // "(other)" is the reference level, so its rows get no indicator column of their own. (Its
  // eleven rows at site a are still the complement of the other indicators there: had they been
  // fewer than ten, the site would refuse the sums over them.)
  CHECK(fitted["colour"]["levels"] == nlohmann::json{"(other)", "blue", "red"});
  for (const char* name : {"mauve", "teal"}) {
    CHECK(lm->dump().find(name) == std::string::npos);
    for (const nlohmann::json& e : s.sites.audit_events("a")) CHECK(e.dump().find(name) == std::string::npos);
  }

  // Order statistics are single rows' values: refused, with what to do instead.
  Status median = RunText(*fed, R"({"algorithm": "lm", "data": {"dataset": "people", "label": "y", "features": ["x"],
      "transform": {"x": {"scale": "min-max"}}}})")
                      .status();
  CHECK(median.code() == StatusCode::kPermissionDenied);
  CHECK_MESSAGE(
      median.message().find("the range and quantiles of column 'x' are single rows' values") != std::string::npos,
      median.message());
}

TEST_CASE("a lone rare category is folded with the next rarest, so that no count gives it away") {
  TempDir dir;
  InProcessSites sites{dir.path(), {"a"}};
  // 3 mauve, 12 teal, 40 blue: "(other)" must hold at least 10 rows, or rows - named would count mauve.
  std::string csv = "colour\n";
  for (int i = 0; i < 55; ++i) csv += i < 3 ? "mauve\n" : i < 15 ? "teal\n" : "blue\n";
  testing::WriteFile(sites.kit("a") / "c.csv", csv);
  sites.AddDataset("a", "c", "c.csv", "private-aggregate");
  sites.StartAll();
  std::unique_ptr<Federation> fed = sites.Connect();
  SiteResponses r = fed->CallAll({Request::Describe("c", {{"colour", {{"levels", true}}}})});
  REQUIRE(FirstError(r).ok());
  const nlohmann::json& colour = r.at("a")->front().meta["columns"]["colour"];
  CHECK(colour["levels"] == nlohmann::json{{"blue", 40}});
  CHECK(colour["other"] == true);
  CHECK_FALSE(colour.contains("other_rows"));
}

TEST_CASE("a site whose policy refuses rare categories refuses the fit, and says how to go on") {
  RareCategory s("refuse");
  std::unique_ptr<Federation> fed = s.sites.Connect();
  const Status refused =
      RunText(*fed, R"({"algorithm": "lm", "data": {"dataset": "people", "label": "y", "features": ["x", "colour"]}})")
          .status();
  CHECK(refused.code() == StatusCode::kPermissionDenied);
  CHECK_MESSAGE(refused.message().find("site 'a'") != std::string::npos, refused.message());
  CHECK(refused.message().find("column 'colour' holds 2 categories that fewer than 10 rows hold") != std::string::npos);
  CHECK(refused.message().find("mauve") == std::string::npos);
  // Levels given in the job need no statistics; the rare rows are then not one of them.
  const Status unknown = RunText(*fed, R"({"algorithm": "lm", "data": {"dataset": "people", "label": "y",
      "features": ["x", "colour"], "transform": {"colour": {"coding": "dummy", "levels": ["blue", "red"]}}}})")
                             .status();
  CHECK(unknown.code() == StatusCode::kDataLoss);
  CHECK_MESSAGE(unknown.message().find("column \"colour\": a cell holds a category that is not one of its 2 levels") !=
                    std::string::npos,
                unknown.message());
}

TEST_CASE("transform specs with mistakes are named before anything runs") {
  auto error = [](const std::string& transform) {
    return ParseJobSpec(nlohmann::json::parse(R"({"algorithm": "lm", "data": {"dataset": "d", "label": "y",
        "transform": )" + transform + "}}"),
                        "job.json")
        .status()
        .message();
  };
  CHECK(error(R"({"a": {"impute": "average"}})")
            .find("data.transform.a.impute: 'average' is not one of mean, median, "
                  "mode, value") != std::string::npos);
  CHECK(error(R"({"a": {"coding": "dummy", "scale": "standard"}})").find("\"scale\" takes numbers") !=
        std::string::npos);
  CHECK(error(R"({"a": {"bin": {"method": "equi-width", "bins": 1}}})").find("data.transform.a.bin.bins") !=
        std::string::npos);
  CHECK(error(R"({"a": {"type": "categorical", "impute": "mean"}})").find("the mean of categories is not defined") !=
        std::string::npos);
  CHECK(error(R"({"a": {"colour": "dummy"}})").find("data.transform.a.colour: unknown field") != std::string::npos);
  CHECK(error(R"({"a": {"type": "numeric", "coding": "dummy"}})").find("a \"coding\" makes categories") !=
        std::string::npos);
  CHECK(error(R"([1])").find("data.transform: expected an object of columns") != std::string::npos);
}

}  // namespace
}  // namespace fedra
