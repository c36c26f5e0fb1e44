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

namespace fedra {

TEST_CASE("site.json written from a SiteConfig reads back as that config") {
  // Start from one with every kind of field set away from its default.
  nlohmann::json doc = ValidSite();
  doc["allowed_masters"] = {"hq", "audit"};
  doc["audit_log"] = "/var/log/fedra/audit.jsonl";
  doc["gpu"] = "off";
  doc["limits"] = {{"max_message_bytes", 1 << 20},
                   {"memory_budget_bytes", 1 << 30},
                   {"min_aggregate_rows", 25},
                   {"read_timeout_s", 9},
                   {"idle_timeout_s", 99}};
  doc["datasets"]["visits"] = {{"path", "visits.csv"},
                               {"privacy", "dp-aggregate"},
                               {"allow_training", true},
                               {"dp", {{"epsilon", 2}, {"noise_multiplier", 5}, {"bounds", {{"*", {0, 1}}}}}}};
  doc["datasets"]["images"] = {{"path", "i.gz"}, {"format", "idx"}, {"labels", "l.gz"}, {"privacy", "public"}};
  const Result<SiteConfig> original = ParseSiteConfig(doc, "/kit", "site.json");
  REQUIRE(original.ok());

  const nlohmann::ordered_json written = SiteConfigJson(*original, "/kit");
  CHECK(written["tls"]["key"] == "key.pem");  // paths in the kit stay relative, so kits can move
  CHECK(written["audit_log"] == "/var/log/fedra/audit.jsonl");
  const Result<SiteConfig> back = ParseSiteConfig(nlohmann::json::parse(written.dump()), "/kit", "site.json");
  REQUIRE(back.ok());
  CHECK(back->name == original->name);
  CHECK(back->listen_port == 7001);
  CHECK(back->tls.key == original->tls.key);
  CHECK(back->allowed_masters == original->allowed_masters);
  CHECK(back->audit_log == original->audit_log);
  CHECK(back->privacy_ledger == original->privacy_ledger);
  CHECK(back->gpu == false);
  CHECK(back->limits.max_message_bytes == original->limits.max_message_bytes);
  CHECK(back->limits.idle_timeout_s == 99);
  REQUIRE(back->datasets.size() == original->datasets.size());
  for (const auto& [name, spec] : original->datasets) {
    CAPTURE(name);
    const DatasetSpec& b = back->datasets.at(name);
    CHECK(b.path == spec.path);
    CHECK(b.format == spec.format);
    CHECK(b.header == spec.header);
    CHECK(b.delimiter == spec.delimiter);
    CHECK(b.privacy == spec.privacy);
    CHECK(b.labels == spec.labels);
    CHECK(b.allow_training == spec.allow_training);
    CHECK(b.dp.epsilon == spec.dp.epsilon);
    CHECK(b.dp.noise_multiplier == spec.dp.noise_multiplier);
    CHECK(b.dp.bounds.size() == spec.dp.bounds.size());
  }

  // A config left at its defaults writes the defaults the site would apply to a missing field.
  SiteConfig defaults;
  defaults.name = "fresh";
  defaults.tls = TlsFiles::InKit("/kit");
  const Result<SiteConfig> fresh =
      ParseSiteConfig(nlohmann::json::parse(SiteConfigJson(defaults, "/kit").dump()), "/kit", "site.json");
  REQUIRE(fresh.ok());
  CHECK(fresh->audit_log == "/kit/audit.jsonl");
  CHECK(fresh->limits.min_aggregate_rows == SiteLimits{}.min_aggregate_rows);
  CHECK(fresh->allowed_masters.empty());
}

}  // namespace fedra
