// The REST APIs in process: a site with a small public table "t", an experiment database in a
// temporary folder, a job runner, and two tokens: "op-token" (operator) and "viewer-token".
#pragma once

#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "common/digest.h"
#include "master/api/rest_api.h"
#include "tests/support/child_process.h"
#include "tests/support/in_process_federation.h"
#include "tests/support/temp_dir.h"

namespace fedra {

struct Api {
  testing::TempDir dir;
  testing::InProcessSites sites{dir.path(), {"a"}};
  std::unique_ptr<Federation> fed;
  std::unique_ptr<ExperimentDb> db;
  std::unique_ptr<JobRunner> runner;
  ApiTokens tokens;
  std::unique_ptr<RestApi> api;

  Api() {
    std::string csv = "x,y\n";
    for (int i = 0; i < 40; ++i) csv += std::to_string(i % 7) + "," + std::to_string(2 * (i % 7) + 1) + "\n";
    testing::WriteFile(sites.kit("a") / "t.csv", csv);
    sites.AddDataset("a", "t", "t.csv", "public");
    sites.StartAll();
    fed = sites.Connect();
    Result<std::unique_ptr<ExperimentDb>> opened = ExperimentDb::Open(dir / "fedra.db");
    REQUIRE(opened.ok());
    db = std::move(*opened);
    runner = std::make_unique<JobRunner>(*fed, *db);
    REQUIRE(tokens.Add("op", "operator", Sha256Hex("op-token")).ok());
    REQUIRE(tokens.Add("viewer", "viewer", Sha256Hex("viewer-token")).ok());
    api = std::make_unique<RestApi>(*fed, *db, *runner, tokens);
  }

  ApiResponse Call(const std::string& method, const std::string& target, const std::string& body = "{}",
                   const std::string& token = "op-token") {
    return api->Handle(ApiRequest{method, target, "Bearer " + token, body});
  }
};

}  // namespace fedra
