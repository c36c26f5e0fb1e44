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
  s.local.StartAll();
  std::unique_ptr<Federation> fed = s.local.Connect();

  Result<std::vector<std::string>> columns = DatasetColumns(*fed, "t");
  REQUIRE_MESSAGE(columns.ok(), columns.status().ToString());
  CHECK(*columns == std::vector<std::string>{"a", "b", "note", "y"});  // the first site's order

  Result<nlohmann::json> lm =
      Run(*fed, R"({"algorithm": "lm", "data": {"dataset": "t", "label": "y", "features": ["a", "b"]}})");
  REQUIRE_MESSAGE(lm.ok(), lm.status().ToString());
  const nlohmann::json& c = (*lm)["coefficients"];
  CHECK(c[0]["estimate"].get<double>() == doctest::Approx(1).epsilon(1e-9));
  CHECK(c[1]["name"] == "a");
  CHECK(c[1]["estimate"].get<double>() == doctest::Approx(2).epsilon(1e-9));
  CHECK(c[2]["estimate"].get<double>() == doctest::Approx(-1).epsilon(1e-9));
  CHECK((*lm)["rows"] == 8);

  // Selecting the text column is what fails, and the error says which column and why.
  Status text = Run(*fed, R"({"algorithm": "lm", "data": {"dataset": "t", "label": "y"}})").status();
  CHECK_MESSAGE(text.message().find("column 3 (\"note\")") != std::string::npos, text.message());
}

TEST_CASE("sites with different columns are named with what each lacks and has besides") {
  Sites s;
  s.Add("a", "t", "a,b,y\n1,2,3\n");
  s.Add("b", "t", "b,y,a\n1,2,3\n");
  s.Add("c", "t", "a,y,c,d\n1,2,3,4\n");
  s.local.StartAll();
  std::unique_ptr<Federation> fed = s.local.Connect();
  const Status differ = DatasetColumns(*fed, "t").status();
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
  s.local.StartAll();
  std::unique_ptr<Federation> fed = s.local.Connect();
  CHECK(DatasetColumns(*fed, "t").status().message().find("site 'a': dataset 't' has two columns named 'a'") !=
        std::string::npos);
  CHECK(DatasetColumns(*fed, "u").status().message().find("site 'c': unknown dataset 'u' (this site has: t)") !=
        std::string::npos);
}

TEST_CASE("a file that reads as one column because of its delimiter is listed with a hint") {
  Sites s;
  s.Add("a", "semi", "x;y;z\n1;2;3\n4;5;6\n");
  s.Add("b", "semi", "x,y,z\n1,2,3\n");
  s.Add("c", "semi", "x,y,z\n1,2,3\n");
  s.local.StartAll();
  std::unique_ptr<Federation> fed = s.local.Connect();
  SiteResponses catalogs = fed->CallAll({Request::ListCatalog()});
  REQUIRE(FirstError(catalogs).ok());
  const nlohmann::json a = catalogs.at("a")->front().meta["datasets"][0];
  CHECK(a["columns"].size() == 1);
  REQUIRE(a.contains("warnings"));
  CHECK(a["warnings"][0] ==
        "read as one column, but its header holds \";\": is that the delimiter? (site.json: \"delimiter\": \";\")");
  CHECK_FALSE(catalogs.at("b")->front().meta["datasets"][0].contains("warnings"));
  // A job on it says which columns differ.
  CHECK(DatasetColumns(*fed, "semi").status().message().find("site 'b' lacks 'x;y;z' and has 'x', 'y', 'z' besides") !=
        std::string::npos);
}

}  // namespace fedra
