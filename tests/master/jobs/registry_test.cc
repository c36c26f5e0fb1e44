// The algorithm registry: what it documents is what job parsing accepts.
#include <doctest/doctest.h>

#include "master/jobs/job.h"
#include "master/jobs/registry.h"

namespace fedra {
namespace {

// A job for `a` whose settings are the registry's own: defaults, and the lowest value for a
// required parameter.
nlohmann::json JobFromCatalog(const AlgorithmInfo& a) {
  nlohmann::json settings = nlohmann::json::object();
  for (const ParamInfo& p : a.params) {
    const nlohmann::json lowest =
        p.type == "integer" ? nlohmann::json(static_cast<int64_t>(p.min)) : nlohmann::json(p.min);
    settings[p.name] = p.default_value.is_null() ? lowest : p.default_value;
  }
  nlohmann::json job = {{"algorithm", a.name}, {"data", {{"dataset", "d"}}}};
  if (a.needs_label) job["data"]["label"] = "y";
  if (a.Takes("params")) {
    job["params"] = settings;
  } else {
    job.update(settings);
  }
  return job;
}

}  // namespace

TEST_CASE("every algorithm accepts its documented defaults, and refuses what it does not document") {
  REQUIRE(Algorithms().size() == 6);
  for (const AlgorithmInfo& a : Algorithms()) {
    CAPTURE(a.name);
    Result<JobSpec> job = ParseJobSpec(JobFromCatalog(a), "job.json");
    REQUIRE_MESSAGE(job.ok(), job.status().ToString());
    CHECK(static_cast<bool>(job->fit));
    nlohmann::json extra = JobFromCatalog(a);
    const std::string section = a.sections.front();
    extra[section]["no_such_setting"] = 1;
    CHECK(ParseJobSpec(extra, "job.json").status().message().find("no_such_setting") != std::string::npos);
    if (!a.needs_label) {
      nlohmann::json labelled = JobFromCatalog(a);
      labelled["data"]["label"] = "y";
      CHECK(ParseJobSpec(labelled, "job.json").ok());  // allowed, and left out of the features
    }
  }
}

TEST_CASE("parameters are checked against their documented types and ranges") {
  const std::vector<ParamInfo> params = {{"k", "integer", nullptr, 1, 10, "clusters"},
                                         {"rate", "number", 0.5, 0, 1, "a rate"},
                                         {"center", "boolean", true, 0, 0, "centre"}};
  Result<nlohmann::json> v = ReadParams(params, {{"k", 3}}, "params");
  REQUIRE(v.ok());
  CHECK((*v)["k"] == 3);
  CHECK((*v)["rate"] == 0.5);
  CHECK((*v)["center"] == true);
  CHECK(ReadParams(params, nlohmann::json::object(), "params").status().message() == "params.k: required");
  CHECK(ReadParams(params, {{"k", 11}}, "params").status().message().find("params.k") != std::string::npos);
  CHECK(ReadParams(params, {{"k", 2}, {"rate", "fast"}}, "params").status().message().find("params.rate") !=
        std::string::npos);
  CHECK(ReadParams(params, {{"k", 2}, {"kk", 1}}, "params").status().message() == "params.kk: unknown field");
}

TEST_CASE("nn's secure aggregation takes 32- or 64-bit words") {
  const auto parse = [](nlohmann::json secure) {
    return ParseJobSpec({{"algorithm", "nn"},
                         {"data", {{"dataset", "d"}, {"label", "y"}}},
                         {"ps", {{"strategy", "bsp"}, {"secure_aggregation", std::move(secure)}}}},
                        "job.json");
  };
  Result<JobSpec> narrow = parse({{"word_bits", 32}, {"fraction_bits", 24}});
  CHECK_MESSAGE(narrow.ok(), narrow.status().ToString());
  CHECK(parse({{"word_bits", 64}}).ok());
  CHECK(parse(true).ok());
  const Status odd = parse({{"word_bits", 48}}).status();
  CHECK(odd.code() == StatusCode::kInvalidArgument);
  CHECK_MESSAGE(odd.message().find("secure_aggregation.word_bits: must be 32 or 64") != std::string::npos,
                odd.message());
}

TEST_CASE("the help and the catalog describe every algorithm and parameter") {
  const std::string help = AlgorithmHelp(2);
  const nlohmann::json catalog = AlgorithmCatalog();
  REQUIRE(catalog.size() == Algorithms().size());
  for (size_t i = 0; i < Algorithms().size(); ++i) {
    const AlgorithmInfo& a = Algorithms()[i];
    CAPTURE(a.name);
    CHECK(help.find("  " + a.name + ": ") != std::string::npos);
    CHECK(catalog[i]["name"] == a.name);
    CHECK(catalog[i]["params"].size() == a.params.size());
    for (const ParamInfo& p : a.params) CHECK(help.find(p.name + " (" + p.type) != std::string::npos);
  }
  CHECK(FindAlgorithm("nn") != nullptr);
  CHECK(FindAlgorithm("svm") == nullptr);
}

}  // namespace fedra
