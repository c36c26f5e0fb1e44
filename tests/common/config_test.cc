// Configuration reading: typed fields, ranges, unknown fields, and the master's federation.json.
#include <doctest/doctest.h>

#include "common/config.h"
#include "master/federation/federation_config.h"

namespace fedra {

TEST_CASE("JsonFields checks types and ranges and names the field") {
  nlohmann::json doc = {{"port", 70000}, {"name", 3}, {"ok", true}, {"typo", 1}};
  JsonFields f(doc, "x.json:");
  int64_t port = 0;
  Status s = f.Optional("port", &port, 1, 65535);
  CHECK(s.message() == "x.json: port: expected an integer in [1, 65535], got 70000");
  std::string name;
  CHECK(f.Required("name", &name).message() == "x.json: name: expected a string");
  bool ok = false;
  CHECK(f.Optional("ok", &ok).ok());
  CHECK(ok);
  CHECK(f.Required("missing", &name).message() == "x.json: missing: required");
  CHECK(f.Finish().message() == "x.json: typo: unknown field");
  CHECK(JsonFields(nlohmann::json::array(), "y.json:").status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("ParseJson reports where the text is broken") {
  Result<nlohmann::json> bad = ParseJson("{\"a\": ", "job.json");
  CHECK(bad.status().message().find("job.json: invalid JSON") == 0);
}

TEST_CASE("federation.json is validated") {
  nlohmann::json doc = {
      {"name", "m"},
      {"tls", {{"cert", "cert.pem"}, {"key", "key.pem"}, {"ca", "ca.crt"}}},
      {"sites", {{{"name", "a"}, {"host", "127.0.0.1"}, {"port", 7001}}}},
      {"limits", {{"call_timeout_s", 9}}}};
  Result<FederationConfig> ok = ParseFederationConfig(doc, "/kits/m", "federation.json");
  REQUIRE(ok.ok());
  CHECK(ok->tls.key == "/kits/m/key.pem");
  CHECK(ok->call_timeout == std::chrono::seconds(9));
  CHECK(ok->sites.at(0).port == 7001);

  auto twice = doc;
  twice["sites"].push_back(doc["sites"][0]);
  CHECK(ParseFederationConfig(twice, "/", "f.json").status().message().find("listed twice") != std::string::npos);
  auto no_sites = doc;
  no_sites["sites"] = nlohmann::json::array();
  CHECK_FALSE(ParseFederationConfig(no_sites, "/", "f.json").ok());
  auto bad_port = doc;
  bad_port["sites"][0]["port"] = 0;
  CHECK(ParseFederationConfig(bad_port, "/", "f.json").status().message().find("sites[0].port") != std::string::npos);
  auto no_tls = doc;
  no_tls.erase("tls");
  CHECK(ParseFederationConfig(no_tls, "/", "f.json").status().message() == "f.json: tls: required");
}

}  // namespace fedra
