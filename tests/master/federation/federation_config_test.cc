// The master's federation.json: sites, ports, TLS kit, each error naming its field.
#include <doctest/doctest.h>

#include "master/federation/federation_config.h"

namespace fedra {

TEST_CASE("federation.json is validated") {
  nlohmann::json doc = {{"name", "m"},
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
