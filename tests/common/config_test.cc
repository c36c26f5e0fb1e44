// Configuration reading: typed fields, ranges, unknown fields, and where JSON text is broken.
#include <doctest/doctest.h>

#include "common/config.h"

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

TEST_CASE("JSON nested deeper than the limit is refused before it is parsed") {
  CHECK(JsonNestsDeeperThan("[[[1]]]", 2));
  CHECK_FALSE(JsonNestsDeeperThan("[[[1]]]", 3));
  // Brackets inside strings, escaped quotes included, do not count.
  CHECK_FALSE(JsonNestsDeeperThan(R"({"a": "[[[[{{", "b": "\"[[[[", "c": [1]})", 2));
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  Result<nlohmann::json> refused = ParseJson(deep, "body");
  CHECK(refused.status().message() == "body: JSON nested deeper than 64 levels");
  CHECK(ParseJson(std::string(64, '[') + std::string(64, ']'), "body").ok());
}

}  // namespace fedra

namespace fedra {

TEST_CASE("unsigned fields take any non-negative integer and name the field otherwise") {
  const nlohmann::json doc = {{"big", uint64_t{1} << 63}, {"negative", -1}, {"text", "7"}};
  JsonFields f(doc, "trainLocal: params");
  uint64_t big = 0, absent = 5, value = 0;
  CHECK(f.Optional("big", &big).ok());
  CHECK(big == uint64_t{1} << 63);
  CHECK(f.Optional("absent", &absent).ok());
  CHECK(absent == 5);
  CHECK(f.Optional("negative", &value).message() ==
        "trainLocal: params.negative: expected a non-negative integer, got -1");
  CHECK(f.Optional("text", &value).message() == "trainLocal: params.text: expected a non-negative integer, got \"7\"");
}

}  // namespace fedra
