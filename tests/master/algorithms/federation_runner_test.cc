// The parameter server's site work over sites in this process: the parameters a validation leaves
// at the sites are what the next work trains from when it carries them, and go as soon as a
// site's next work carries others.
#include <doctest/doctest.h>

#include <map>

#include "master/algorithms/federation_runner.h"
#include "tests/support/in_process_federation.h"
#include "tests/support/temp_dir.h"

namespace fedra {
namespace {

// The variables each site holds, once the releases queued so far have gone out.
std::map<std::string, int64_t> Held(Federation& fed) {
  REQUIRE(fed.FlushReleases().ok());
  std::map<std::string, int64_t> held;
  for (const auto& [site, r] : fed.CallAll({Request::ListCatalog()})) {
    REQUIRE_MESSAGE(r.ok(), r.status().ToString());
    held[site] = (*r)[0].meta["variables"].get<int64_t>();
  }
  return held;
}

}  // namespace

TEST_CASE("parameters a validation left at a site go as soon as the site's next work carries others") {
  testing::TempDir dir;
  testing::InProcessSites local(dir.path(), {"a", "b"});
  local.StartAll();
  auto fed = local.Connect();
  Result<FederatedMatrix> x =
      FederatedMatrix::Distribute(*fed, {{"a", Matrix{{0, 1}, {1, 0}}}, {"b", Matrix{{1, 1}, {0, 0}}}}, {"u", "v"});
  Result<FederatedMatrix> y =
      FederatedMatrix::Distribute(*fed, {{"a", Matrix{{0}, {1}}}, {"b", Matrix{{1}, {0}}}}, {"c"});
  REQUIRE(x.ok());
  REQUIRE(y.ok());
  SiteTrainingSpec spec;
  spec.train.model.inputs = 2;
  spec.train.model.hidden = {3};
  spec.train.model.outputs = 2;
  spec.train.batch_size = 2;
  Result<std::unique_ptr<FederationRunner>> created = FederationRunner::Create(*fed, *x, *y, spec);
  REQUIRE_MESSAGE(created.ok(), created.status().ToString());
  FederationRunner& runner = **created;
  const std::map<std::string, int64_t> before = Held(*fed);

  const Eigen::Index n = spec.train.model.parameter_count();
  const auto validated = std::make_shared<const Eigen::VectorXf>(Eigen::VectorXf::Random(n));
  const auto newer = std::make_shared<const Eigen::VectorXf>(Eigen::VectorXf::Random(n));
  const FederatedMatrix::PartOp score{EvalModelParams{spec.train.model}, &*y};
  REQUIRE(runner.RunWithParameters(*x, score, validated).ok());
  std::map<std::string, int64_t> staged = Held(*fed);
  CHECK(staged["a"] == before.at("a") + 1);
  CHECK(staged["b"] == before.at("b") + 1);

  // Site a moves on to newer parameters: its copy goes with that work, before any validation.
  runner.Start(SiteWork{0, 0, 2, newer});
  const FinishedWork a = runner.Next();
  REQUIRE_MESSAGE(a.update.ok(), a.update.status().ToString());
  staged = Held(*fed);
  CHECK(staged["a"] == before.at("a"));
  CHECK(staged["b"] == before.at("b") + 1);

  // Site b trains from the validated ones, and its copy goes once the work is done.
  runner.Start(SiteWork{1, 0, 1, validated});
  const FinishedWork b = runner.Next();
  REQUIRE_MESSAGE(b.update.ok(), b.update.status().ToString());
  CHECK(b.update->bytes_down == a.update->bytes_down);  // both counted the parameters' float32 encoding
  CHECK(Held(*fed) == before);
}

}  // namespace fedra
