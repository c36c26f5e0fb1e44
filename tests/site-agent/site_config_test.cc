// site.json validation: datasets, privacy levels, limits, relative paths, unknown fields.
#include <doctest/doctest.h>

#include "site-agent/site_config.h"

namespace fedra {
namespace {

nlohmann::json ValidSite() {
  return {{"name", "a"},
          {"listen", {{"address", "127.0.0.1"}, {"port", 7001}}},
          {"tls", {{"cert", "cert.pem"}, {"key", "key.pem"}, {"ca", "ca.crt"}}},
          {"limits", {{"min_aggregate_rows", 5}}},
          {"datasets",
           {{"housing", {{"path", "data/housing.csv"}, {"privacy", "private-aggregate"}}},
            {"pub", {{"path", "/abs/pub.tsv"}, {"privacy", "public"}, {"delimiter", "\t"}, {"header", false}}}}}};
}

std::string Error(const nlohmann::json& doc) { return ParseSiteConfig(doc, "/kit", "site.json").status().message(); }

}  // namespace

TEST_CASE("a valid site.json loads with paths resolved against its folder") {
  Result<SiteConfig> c = ParseSiteConfig(ValidSite(), "/kit", "site.json");
  REQUIRE(c.ok());
  CHECK(c->datasets.at("housing").path == "/kit/data/housing.csv");
  CHECK(c->datasets.at("pub").path == "/abs/pub.tsv");
  CHECK(c->datasets.at("pub").delimiter == '\t');
  CHECK_FALSE(c->datasets.at("pub").header);
  CHECK(c->datasets.at("housing").privacy == PrivacyLevel::kPrivateAggregate);
  CHECK(c->limits.min_aggregate_rows == 5);
  CHECK(c->audit_log == "/kit/audit.jsonl");
}

TEST_CASE("site.json errors name the field at fault") {
  auto doc = ValidSite();
  doc["datasets"]["housing"]["privacy"] = "secret";
  CHECK(Error(doc).find("datasets.housing.privacy: unknown privacy level 'secret'") != std::string::npos);

  doc = ValidSite();
  doc["datasets"]["housing"].erase("privacy");
  CHECK(Error(doc) == "site.json: datasets.housing.privacy: required");

  doc = ValidSite();
  doc["datasets"]["../x"] = {{"path", "x.csv"}, {"privacy", "public"}};
  CHECK(Error(doc).find("invalid dataset name '../x'") != std::string::npos);

  doc = ValidSite();
  doc["datasets"]["housing"]["delimiter"] = ";;";
  CHECK(Error(doc).find("delimiter") != std::string::npos);

  doc = ValidSite();
  doc["datasets"]["housing"]["format"] = "parquet";
  CHECK(Error(doc).find("unknown format 'parquet'") != std::string::npos);

  doc = ValidSite();
  doc["limits"]["max_message_bytes"] = -1;
  CHECK(Error(doc).find("limits.max_message_bytes: expected an integer") != std::string::npos);

  doc = ValidSite();
  doc["listne"] = 1;
  CHECK(Error(doc) == "site.json: listne: unknown field");

  doc = ValidSite();
  doc["tls"].erase("ca");
  CHECK(Error(doc) == "site.json: tls.ca: required");

  doc = ValidSite();
  doc["gpu"] = "maybe";
  CHECK(Error(doc) == "site.json: gpu: \"auto\" or \"off\", got \"maybe\"");
}

}  // namespace fedra
