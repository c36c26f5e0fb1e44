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

TEST_CASE("federation.json written from a FederationConfig reads back as that config") {
  FederationConfig config;
  config.name = "hq";
  config.federation = "acme";
  config.tls = TlsFiles::InKit("/kits/hq");
  config.sites = {{"a", "a.acme.internal", 7000}, {"b", "10.0.0.2", 7100}};
  config.call_timeout = std::chrono::seconds(90);
  const nlohmann::ordered_json written = FederationConfigJson(config, "/kits/hq");
  CHECK(written["tls"]["cert"] == "cert.pem");
  const Result<FederationConfig> back =
      ParseFederationConfig(nlohmann::json::parse(written.dump()), "/kits/hq", "federation.json");
  REQUIRE(back.ok());
  CHECK(back->name == "hq");
  CHECK(back->federation == "acme");
  CHECK(back->tls.ca == "/kits/hq/ca.crt");
  REQUIRE(back->sites.size() == 2);
  CHECK(back->sites[1].host == "10.0.0.2");
  CHECK(back->sites[1].port == 7100);
  CHECK(back->call_timeout == std::chrono::seconds(90));
  CHECK(back->connect_timeout == config.connect_timeout);
  CHECK(back->max_message_bytes == config.max_message_bytes);
}

}  // namespace fedra
