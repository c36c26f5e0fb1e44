// Datasets whose sites hold the columns in different orders, or different columns, or columns a
// job does not use that are not numbers: reads match columns by name, parse only what a job uses,
// and a mismatch names the missing and extra columns per site.
#include <doctest/doctest.h>

#include "master/jobs/job.h"
#include "tests/support/in_process_federation.h"
#include "tests/support/temp_dir.h"

namespace fedra {
namespace {

using testing::InProcessSites;
using testing::TempDir;

// y = 1 + 2a - b at every row; each site writes its own header order and a text column.
struct Sites {
  TempDir dir;
  InProcessSites local{dir.path(), {"a", "b", "c"}};

  void Add(const std::string& site, const std::string& dataset, const std::string& csv) {
    testing::WriteFile(local.kit(site) / (dataset + ".csv"), csv);
    local.AddDataset(site, dataset, dataset + ".csv", "public");
  }

  // Starts the sites with what was added, and connects a master.
  std::unique_ptr<Federation> Start() {
    local.StartAll();
    return local.Connect();
  }

  // Starts every site with dataset "t": 20 rows of y = 2x + 1 each.
  std::unique_ptr<Federation> StartWithLine() {
    for (const char* site : {"a", "b", "c"}) {
      std::string csv = "x,y\n";
      for (int i = 0; i < 20; ++i) csv += std::to_string(i % 5) + "," + std::to_string(2 * (i % 5) + 1) + "\n";
      Add(site, "t", csv);
    }
    return Start();
  }
};

Result<nlohmann::json> Run(Federation& fed, const std::string& spec) {
  Result<JobSpec> job = ParseJobSpec(nlohmann::json::parse(spec), "job.json");
  if (!job.ok()) return job.status();
  return RunJob(fed, *job);
}

}  // namespace

TEST_CASE("sites may hold a dataset's columns in any order, with text in columns a job does not use") {
  Sites s;
  s.Add("a", "t", "a,b,note,y\n1,0,hello,3\n2,1,x,4\n0,2,,-1\n3,3,\"a, b\",4\n");
  s.Add("b", "t", "y,note,b,a\n6,no,1,3\n0,yes,3,1\n");
  s.Add("c", "t", "note,b,y,a\nz,0,11,5\nw,5,-4,0\n");
  std::unique_ptr<Federation> fed = s.Start();

  Result<DatasetSchema> schema = ReadSchema(*fed, "t");
  REQUIRE_MESSAGE(schema.ok(), schema.status().ToString());
  CHECK(schema->columns == std::vector<std::string>{"a", "b", "note", "y"});  // the first site's order
  CHECK(schema->types.at("note") == "categorical");
  CHECK(schema->types.at("a") == "numeric");
  CHECK(schema->missing.at("note") == 1);

  Result<nlohmann::json> lm =
      Run(*fed, R"({"algorithm": "lm", "data": {"dataset": "t", "label": "y", "features": ["a", "b"]}})");
  REQUIRE_MESSAGE(lm.ok(), lm.status().ToString());
  const nlohmann::json& c = (*lm)["coefficients"];
  CHECK(c[0]["estimate"].get<double>() == doctest::Approx(1).epsilon(1e-9));
  CHECK(c[1]["name"] == "a");
  CHECK(c[1]["estimate"].get<double>() == doctest::Approx(2).epsilon(1e-9));
  CHECK(c[2]["estimate"].get<double>() == doctest::Approx(-1).epsilon(1e-9));
  CHECK((*lm)["rows"] == 8);

  // The text column is a category, and its missing cell needs an imputation: the error says so
  // before any row is read.
  Status text = Run(*fed, R"({"algorithm": "lm", "data": {"dataset": "t", "label": "y"}})").status();
  CHECK_MESSAGE(text.message().find("data.transform.note: the column has 1 missing cells at the sites; impute them") !=
                    std::string::npos,
                text.message());
}

TEST_CASE("a job that names its sites reads only theirs, so a dataset some sites lack is usable") {
  Sites s;
  s.Add("a", "t", "x,y\n1,3\n2,5\n3,7\n");
  s.Add("c", "t", "y,x\n9,4\n11,5\n");
  s.Add("b", "other", "x\n1\n");
  std::unique_ptr<Federation> fed = s.Start();
  // Without naming its sites the job needs the dataset everywhere, and says where it is missing.
  const Status everywhere = Run(*fed, R"({"algorithm": "lm", "data": {"dataset": "t", "label": "y"}})").status();
  CHECK_MESSAGE(everywhere.message().find("site 'b': unknown dataset 't'") != std::string::npos, everywhere.message());

  Result<nlohmann::json> lm =
      Run(*fed, R"({"algorithm": "lm", "data": {"dataset": "t", "label": "y"}, "sites": ["c", "a"]})");
  REQUIRE_MESSAGE(lm.ok(), lm.status().ToString());
  CHECK((*lm)["rows"] == 5);
  CHECK((*lm)["sites"] == nlohmann::json{"c", "a"});  // the rows it covers, in the job's order
  CHECK((*lm)["coefficients"][1]["estimate"].get<double>() == doctest::Approx(2).epsilon(1e-9));  // y = 1 + 2x

  const Status unknown =
      Run(*fed, R"({"algorithm": "lm", "data": {"dataset": "t", "label": "y"}, "sites": ["a", "z"]})").status();
  CHECK(unknown.code() == StatusCode::kInvalidArgument);
  CHECK_MESSAGE(unknown.message().find("unknown site 'z' (the federation has: a, b, c)") != std::string::npos,
                unknown.message());
  // Nothing is left at the named sites.
  SiteResponses catalogs = fed->CallAll({Request::ListCatalog()});
  REQUIRE(FirstError(catalogs).ok());
  for (const auto& [site, responses] : catalogs) CHECK((*responses)[0].meta["variables"] == 0);
}

TEST_CASE("training with a quorum starts without a site that is down, and names it") {
  Sites s;
  std::unique_ptr<Federation> fed = s.StartWithLine();
  s.local.Stop("b");
  auto nn = [&](int quorum) {
    return Run(*fed, R"({"algorithm": "nn", "data": {"dataset": "t", "label": "y"},
        "model": {"hidden": [4], "activation": "relu", "output": "linear"},
        "ps": {"strategy": "bsp", "epochs": 2, "batch_size": 4, "quorum": )" +
                         std::to_string(quorum) + "}}");
  };
  Result<nlohmann::json> two = nn(2);
  REQUIRE_MESSAGE(two.ok(), two.status().ToString());
  CHECK((*two)["sites"] == nlohmann::json{"a", "c"});
  REQUIRE((*two)["left_out"].contains("b"));
  CHECK((*two)["rows"] == 40);
  const Status three = nn(3).status();
  CHECK(three.code() == StatusCode::kUnavailable);
  CHECK_MESSAGE(three.message().find("2 of 3 sites answer, below the quorum of 3") != std::string::npos,
                three.message());
  CHECK(three.message().find("\"b\"") != std::string::npos);
}

TEST_CASE("a site that was down when training started joins a later round, and the result says when") {
  Sites s;
  std::unique_ptr<Federation> fed = s.StartWithLine();
  s.local.Stop("b");
  Result<JobSpec> job =
      ParseJobSpec(nlohmann::json::parse(R"({"algorithm": "nn", "data": {"dataset": "t", "label": "y"},
      "model": {"hidden": [4], "activation": "relu", "output": "linear"},
      "ps": {"strategy": "bsp", "epochs": 4, "batch_size": 4, "quorum": 2}})"),
                   "job.json");
  REQUIRE(job.ok());
  // b comes back once the first round is done without it.
  const IterationHook start_b = [&](int round, const IterationMetrics&) {
    if (round == 1) s.local.Start("b");
    return Status::Ok();
  };
  Result<nlohmann::json> r = RunJob(*fed, *job, start_b);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  REQUIRE((*r)["left_out"].contains("b"));
  CHECK((*r)["dropped"]["b"].size() == 1);
  CHECK((*r)["dropped"]["b"][0]["round"] == 1);
  CHECK((*r)["rejoined"]["b"] == nlohmann::json{2});
  const nlohmann::json& rounds = (*r)["rounds"];
  REQUIRE(rounds.size() == 4);
  CHECK_FALSE(rounds[0]["sites"].contains("b"));
  for (size_t i = 1; i < 4; ++i) CHECK(rounds[i]["sites"]["b"]["rows"] == 20);
  // What b made for the job is gone with it.
  SiteResponses catalogs = fed->CallAll({Request::ListCatalog()});
  REQUIRE(FirstError(catalogs).ok());
  for (const auto& [site, responses] : catalogs) CHECK((*responses)[0].meta["variables"] == 0);
}

TEST_CASE("sites with different columns are named with what each lacks and has besides") {
  Sites s;
  s.Add("a", "t", "a,b,y\n1,2,3\n");
  s.Add("b", "t", "b,y,a\n1,2,3\n");
  s.Add("c", "t", "a,y,c,d\n1,2,3,4\n");
  std::unique_ptr<Federation> fed = s.Start();
  const Status differ = ReadSchema(*fed, "t").status();
  CHECK(differ.message() ==
        "dataset 't': the sites hold different columns (matched by name, in any order), against site 'a'; "
        "site 'c' lacks 'b' and has 'c', 'd' besides");
  // A job says the same before reading anything.
  const Status job = Run(*fed, R"({"algorithm": "lm", "data": {"dataset": "t", "label": "y"}})").status();
  CHECK(job.message().find("site 'c' lacks 'b'") != std::string::npos);
}

TEST_CASE("a repeated column name and a dataset one site lacks are named") {
  Sites s;
  s.Add("a", "t", "a,b,a\n1,2,3\n");
  s.Add("b", "t", "a,b\n1,2\n");
  s.Add("c", "t", "a,b\n1,2\n");
  s.Add("a", "u", "a\n1\n");
  s.Add("b", "u", "a\n1\n");
  std::unique_ptr<Federation> fed = s.Start();
  CHECK(ReadSchema(*fed, "t").status().message().find("site 'a': dataset 't' has two columns named 'a'") !=
        std::string::npos);
  CHECK(ReadSchema(*fed, "u").status().message().find("site 'c': unknown dataset 'u' (this site has: t)") !=
        std::string::npos);
}

TEST_CASE("a dataset of 150,000 columns is listed, and a job reads two of them by name") {
  Sites s;
  std::string header, row1, row2;
  for (int j = 0; j < 150000; ++j) {
    const std::string sep = j ? "," : "";
    header += sep + "feature_" + std::to_string(j);
    row1 += sep + std::to_string(j % 3);
    row2 += sep + std::to_string(j % 5);
  }
  for (const char* site : {"a", "b", "c"}) s.Add(site, "wide", header + "\n" + row1 + "\n" + row2 + "\n" + row1 + "\n");
  std::unique_ptr<Federation> fed = s.Start();
  Result<DatasetSchema> schema = ReadSchema(*fed, "wide");
  REQUIRE_MESSAGE(schema.ok(), schema.status().ToString());
  CHECK(schema->columns.size() == 150000);
  CHECK(schema->columns.back() == "feature_149999");
  Result<FederatedMatrix> two = FederatedMatrix::Read(*fed, "wide", {"feature_149999", "feature_7"});
  REQUIRE_MESSAGE(two.ok(), two.status().ToString());
  CHECK(two->rows() == 9);
  CHECK(two->cols() == 2);
}

TEST_CASE("a file that reads as one column because of its delimiter is listed with a hint") {
  Sites s;
  s.Add("a", "semi", "x;y;z\n1;2;3\n4;5;6\n");
  s.Add("b", "semi", "x,y,z\n1,2,3\n");
  s.Add("c", "semi", "x,y,z\n1,2,3\n");
  std::unique_ptr<Federation> fed = s.Start();
  SiteResponses catalogs = fed->CallAll({Request::ListCatalog()});
  REQUIRE(FirstError(catalogs).ok());
  const nlohmann::json a = catalogs.at("a")->front().meta["datasets"][0];
  CHECK(a["columns"].size() == 1);
  REQUIRE(a.contains("warnings"));
  CHECK(a["warnings"][0] ==
        "read as one column, but its header holds \";\": is that the delimiter? (site.json: \"delimiter\": \";\")");
  CHECK_FALSE(catalogs.at("b")->front().meta["datasets"][0].contains("warnings"));
  // A job on it says which columns differ.
  CHECK(ReadSchema(*fed, "semi").status().message().find("site 'b' lacks 'x;y;z' and has 'x', 'y', 'z' besides") !=
        std::string::npos);
}

TEST_CASE("sites check every cell when they start: column types, missing cells and problems in the catalog") {
  Sites s;
  // a: numbers with a missing value; smoker: text; ok: booleans; typo: numbers and one word.
  const std::string csv =
      "a,smoker,ok,typo,empty\n1.5,no,TRUE,1,\nNA,yes,FALSE,2,NA\n3,no,true,n/a,\n4,,false,4,\n5,yes,True,5,\n"
      "6,no,False,6,\n7,no,TRUE,7,\n8,no,TRUE,8,\n9,no,TRUE,9,\n10,no,TRUE,10,\n11,no,TRUE,11,\n";
  s.Add("a", "people", csv);
  testing::WriteFile(s.local.kit("b") / "people.csv", csv + "12,no\n");
  s.local.AddDataset("b", "people", "people.csv", "private-aggregate");
  s.local.EditConfig("c", [](nlohmann::json& c) {
    c["datasets"]["people"] = {{"path", "people.csv"}, {"privacy", "public"}, {"missing", {"", "NA", "n/a"}}};
  });
  testing::WriteFile(s.local.kit("c") / "people.csv", csv);
  std::unique_ptr<Federation> fed = s.Start();
  SiteResponses catalogs = fed->CallAll({Request::ListCatalog()});
  REQUIRE(FirstError(catalogs).ok());
  auto listed = [&](const std::string& site) { return catalogs.at(site)->front().meta["datasets"][0]; };

  const nlohmann::json a = listed("a");
  CHECK(a["types"] == nlohmann::json::array({"numeric", "categorical", "boolean", "categorical", "empty"}));
  CHECK(a["missing"] == nlohmann::json::array({1, 1, 0, 0, 11}));
  REQUIRE(a["warnings"].size() == 1);
  CHECK(a["warnings"][0] ==
        "column 4 (\"typo\") holds numbers but 1 cells that are not (the first at line 4: \"n/a\"), so it reads as "
        "categorical; if they mean a missing value, list them in the dataset's \"missing\" in site.json");

  // Private-aggregate: the same problems, without lines or cells; and a short record.
  const nlohmann::json b = listed("b");
  REQUIRE(b["warnings"].size() == 2);
  CHECK(b["warnings"][0].get<std::string>().find("line") == std::string::npos);
  CHECK(b["warnings"][1] == "1 records do not have the header's 5 fields");

  // The owner's own missing-value tokens.
  const nlohmann::json c = listed("c");
  CHECK(c["types"][3] == "numeric");
  CHECK(c["missing"][3] == 1);
  CHECK_FALSE(c.contains("warnings"));
}

TEST_CASE("a missing value in a column a job reads is named as one") {
  Sites s;
  s.Add("a", "m", "x,y,z,w\n1,2,NA,3\n2,3,4,5\n3,5,6,7\n");
  s.Add("b", "m", "x,y,z,w\n1,NaN,1,2\n2,3,4,6\n");
  s.Add("c", "m", "x,y,z,w\n1,2,3,3\n2,3,5,4\n");
  std::unique_ptr<Federation> fed = s.Start();
  auto lm = [&](const char* label) {
    return Run(*fed, std::string(R"({"algorithm": "lm", "data": {"dataset": "m", "features": ["x"], "label": ")") +
                         label + "\"}}");
  };
  // "NA" and "NaN" are missing-value tokens: the catalog counts them, and a job that reads the
  // column without imputing them is refused before any row is read.
  const Status na = lm("z").status();
  CHECK_MESSAGE(na.message().find("data.transform.z: the column has 1 missing cells at the sites; impute them") !=
                    std::string::npos,
                na.message());
  const Status nan = lm("y").status();
  CHECK_MESSAGE(nan.message().find("data.transform.y: the column has 1 missing cells") != std::string::npos,
                nan.message());
  // Columns without missing values serve jobs as before.
  Result<nlohmann::json> complete = lm("w");
  CHECK_MESSAGE(complete.ok(), complete.status().ToString());
}

}  // namespace fedra
