// Faults on the wire between the master and real site processes, made by a proxy per site
// (tests/support/fault_proxy.h): added latency, a bandwidth limit, a stall, connection resets and
// a partition. Under each, jobs finish, or fail with a message naming the site and the cause;
// nothing hangs past its deadline and no variable is left at a site.
#include <doctest/doctest.h>

#include <chrono>
#include <functional>
#include <random>

#include "master/federation/tls_federation.h"
#include "master/jobs/job.h"
#include "tests/support/fault_proxy.h"
#include "tests/support/local_federation.h"
#include "tests/support/temp_dir.h"

namespace fedra {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// y = 1 + 2 x1 - x2 + 0.5 x3 + noise; cls = 1 when x1 + x2 > 0.
Matrix FaultData(int rows) {
  std::mt19937 rng(17);
  std::normal_distribution<double> n(0, 1);
  Matrix m(rows, 5);
  for (int i = 0; i < rows; ++i) {
    for (int j = 0; j < 3; ++j) m(i, j) = n(rng);
    m(i, 3) = 1 + 2 * m(i, 0) - m(i, 1) + 0.5 * m(i, 2) + 0.1 * n(rng);
    m(i, 4) = m(i, 0) + m(i, 1) > 0 ? 1 : 0;
  }
  return m;
}

// Three site processes, each reached through its own fault proxy.
struct ProxiedSites {
  testing::TempDir dir;
  testing::LocalFederation local{dir.path(), {"a", "b", "c"}};
  std::map<std::string, std::unique_ptr<testing::FaultProxy>> proxies;

  ProxiedSites() {
    local.AddSplitCsvDataset("d", FaultData(600), {150, 200, 250}, {"x1", "x2", "x3", "y", "cls"}, "private-aggregate");
    local.AllowTraining("d");
    local.StartAll();
    for (const std::string& site : local.sites()) {
      proxies[site] = std::make_unique<testing::FaultProxy>("127.0.0.1", local.port(site));
    }
  }

  testing::FaultProxy& proxy(const std::string& site) { return *proxies.at(site); }

  // A master whose calls go through the proxies, with short deadlines.
  std::unique_ptr<Federation> Connect(seconds call_timeout = seconds(20), seconds connect_timeout = seconds(5)) {
    FederationConfig config = local.MasterConfig(call_timeout);
    config.connect_timeout = connect_timeout;
    for (SiteAddress& s : config.sites) s.port = proxies.at(s.name)->port();
    Result<std::unique_ptr<Federation>> fed = ConnectFederation(config);
    REQUIRE_MESSAGE(fed.ok(), fed.status().ToString());
    return std::move(fed).value();
  }
};

Result<nlohmann::json> RunSpec(Federation& fed, const std::string& spec, const IterationHook& hook = nullptr) {
  Result<JobSpec> job = ParseJobSpec(nlohmann::json::parse(spec), "job.json");
  if (!job.ok()) return job.status();
  return RunJob(fed, *job, hook);
}

const char* kLm = R"({"algorithm": "lm", "data": {"dataset": "d", "label": "y", "features": ["x1", "x2", "x3"]}})";

std::string NnSpec(int epochs, int quorum) {
  return R"({"algorithm": "nn", "data": {"dataset": "d", "label": "cls", "features": ["x1", "x2"]},
             "model": {"hidden": [4], "activation": "tanh"}, "optimizer": {"name": "sgd", "lr": 0.1},
             "ps": {"strategy": "bsp", "epochs": )" +
         std::to_string(epochs) + R"(, "batch_size": 64, "quorum": )" + std::to_string(quorum) + "}}";
}

void CheckNothingLeft(Federation& fed) {
  const Status left = testing::NothingLeft(fed);
  CHECK_MESSAGE(left.ok(), left.ToString());
}

// Trains with `site`'s link cut by `fault` after round 1 and healed after round 3: the site is
// dropped, comes back, and is in the last round.
void CheckDroppedAndBack(ProxiedSites& s, Federation& fed, const std::string& site,
                         const std::function<void(testing::FaultProxy&, bool)>& fault,
                         const std::string& dropped_for = "") {
  const IterationHook cut = [&](int round, const IterationMetrics&) {
    if (round == 1) fault(s.proxy(site), true);
    if (round == 3) fault(s.proxy(site), false);
    return Status::Ok();
  };
  Result<nlohmann::json> nn = RunSpec(fed, NnSpec(6, 2), cut);
  REQUIRE_MESSAGE(nn.ok(), nn.status().ToString());
  CHECK((*nn)["rounds"].size() == 6);
  REQUIRE((*nn)["dropped"].contains(site));
  CHECK_MESSAGE((*nn)["dropped"][site][0]["error"].get<std::string>().find(dropped_for) != std::string::npos,
                (*nn)["dropped"].dump());
  CHECK((*nn)["rejoined"].contains(site));
  CHECK((*nn)["rounds"][5]["sites"].contains(site));
  CheckNothingLeft(fed);
}

double MeanRoundSeconds(const nlohmann::json& result) {
  double total = 0;
  for (const nlohmann::json& r : result["rounds"]) total += r["seconds"].get<double>();
  return total / static_cast<double>(result["rounds"].size());
}

}  // namespace

TEST_CASE("added latency: lm and FedAvg give the same results, slower by their round trips") {
  ProxiedSites s;
  auto fed = s.Connect();
  // Warm: connections made, and each site's file read once (the sites keep no cache, but the
  // kernel's page cache does).
  REQUIRE(RunSpec(*fed, kLm).ok());
  nlohmann::json first_lm;
  double base_lm = 0, base_round = 0;
  for (int latency : {0, 10, 50}) {
    CAPTURE(latency);
    for (auto& [site, proxy] : s.proxies) proxy->SetLatency(milliseconds(latency));
    const auto start = std::chrono::steady_clock::now();
    Result<nlohmann::json> lm = RunSpec(*fed, kLm);
    const double lm_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    REQUIRE_MESSAGE(lm.ok(), lm.status().ToString());
    Result<nlohmann::json> nn = RunSpec(*fed, NnSpec(5, 3));
    REQUIRE_MESSAGE(nn.ok(), nn.status().ToString());
    const double round = MeanRoundSeconds(*nn);
    if (latency == 0) {
      first_lm = (*lm)["coefficients"];
      base_lm = lm_seconds;
      base_round = round;
    }
    MESSAGE("added latency " << latency << " ms each way: lm " << 1000 * lm_seconds << " ms (" << lm_seconds / base_lm
                             << "x), FedAvg round " << 1000 * round << " ms (" << round / base_round << "x)");
    // The same numbers, however slowly they travel.
    CHECK((*lm)["coefficients"] == first_lm);
    CHECK((*nn)["rounds"].size() == 5);
    // A round is at least one round trip to the slowest site.
    CHECK(round >= 2 * latency / 1000.0);
  }
  CheckNothingLeft(*fed);
}

TEST_CASE("a bandwidth limit slows a training round by the bytes it carries") {
  ProxiedSites s;
  auto fed = s.Connect();
  // A wider model: 2 -> 512 -> 2 is 2,562 parameters, about 10 KB each way per site and round.
  const std::string spec = R"({"algorithm": "nn", "data": {"dataset": "d", "label": "cls", "features": ["x1", "x2"]},
      "model": {"hidden": [512], "activation": "tanh"}, "ps": {"strategy": "bsp", "epochs": 3, "batch_size": 64}})";
  constexpr uint64_t kRate = 20000;  // bytes per second
  for (auto& [site, proxy] : s.proxies) proxy->SetBandwidth(kRate);
  Result<nlohmann::json> nn = RunSpec(*fed, spec);
  REQUIRE_MESSAGE(nn.ok(), nn.status().ToString());
  const nlohmann::json& round = (*nn)["rounds"][1];
  // Each site's link carries its share of the round's bytes down and up.
  const double per_site = (round["bytes_down"].get<double>() + round["bytes_up"].get<double>()) / 3;
  MESSAGE("round 2: " << round["seconds"] << " s for " << per_site << " bytes per site at " << kRate << " B/s");
  CHECK(round["seconds"].get<double>() >= 0.9 * per_site / (2 * kRate));
  for (auto& [site, proxy] : s.proxies) proxy->SetBandwidth(0);
  CheckNothingLeft(*fed);
}

TEST_CASE("a stalled site: a step fails at its deadline naming the site, and training goes on without it") {
  ProxiedSites s;
  auto fed = s.Connect(seconds(2));
  REQUIRE(FirstError(fed->CallAll({Request::Ping()})).ok());  // connected: the stall hits a call, not a handshake
  s.proxy("c").SetStalled(true);
  const auto start = std::chrono::steady_clock::now();
  const Status lm = RunSpec(*fed, kLm).status();
  CHECK(std::chrono::steady_clock::now() - start < seconds(10));
  CHECK(lm.code() == StatusCode::kDeadlineExceeded);
  CHECK_MESSAGE(lm.message().find("site 'c'") != std::string::npos, lm.message());
  CHECK(lm.message().find("no answer within 2 s") != std::string::npos);
  s.proxy("c").SetStalled(false);

  CheckDroppedAndBack(
      s, *fed, "c", [](testing::FaultProxy& p, bool on) { p.SetStalled(on); }, "no answer within 2 s");
}

TEST_CASE("connections reset between rounds are made again, and the job does not notice") {
  ProxiedSites s;
  auto fed = s.Connect();
  const IterationHook reset = [&](int round, const IterationMetrics&) {
    if (round == 2 || round == 3) {
      for (auto& [site, proxy] : s.proxies) proxy->ResetConnections();
    }
    return Status::Ok();
  };
  Result<nlohmann::json> nn = RunSpec(*fed, NnSpec(5, 3), reset);
  REQUIRE_MESSAGE(nn.ok(), nn.status().ToString());
  CHECK((*nn)["rounds"].size() == 5);
  CHECK_FALSE(nn->contains("dropped"));
  for (auto& [site, proxy] : s.proxies) CHECK(proxy->connections() >= 3);
  CheckNothingLeft(*fed);
}

TEST_CASE("a partitioned site: a step fails naming it, training drops it and takes it back once healed") {
  ProxiedSites s;
  auto fed = s.Connect(seconds(2), seconds(2));
  s.proxy("b").SetPartitioned(true);
  const Status lm = RunSpec(*fed, kLm).status();
  CHECK(lm.code() == StatusCode::kDeadlineExceeded);
  CHECK_MESSAGE(lm.message().find("site 'b'") != std::string::npos, lm.message());
  s.proxy("b").SetPartitioned(false);

  CheckDroppedAndBack(s, *fed, "b", [](testing::FaultProxy& p, bool on) { p.SetPartitioned(on); });
}

}  // namespace fedra
