// The parameter server's strategies on a simulated clock: each site takes a fixed time per
// round, so who waits for whom is exact and the tests can say precisely when every site must
// start. The server, strategies, aggregation and optimizers are the production ones; only the
// sites' timing is simulated (the network runner is exercised in system_fedavg).
#include <doctest/doctest.h>

#include <functional>
#include <map>
#include <queue>
#include <set>

#include "master/ps/parameter_server.h"

namespace fedra {
namespace {

struct StartEvent {
  int site;
  double time;
  int64_t version;
};

class SimulatedRunner final : public SiteRunner {
 public:
  // The update of a piece of work, computed when it starts; a non-ok result fails it.
  using Compute = std::function<Result<SiteUpdate>(const SiteWork&, int attempt)>;

  SimulatedRunner(std::vector<double> delays, Compute compute)
      : delays_(std::move(delays)), compute_(std::move(compute)) {
    for (size_t i = 0; i < delays_.size(); ++i) names_.push_back("s" + std::to_string(i));
    attempts_.resize(delays_.size());
  }

  int sites() const override { return static_cast<int>(delays_.size()); }
  const std::string& site_name(int site) const override { return names_[static_cast<size_t>(site)]; }
  double Now() const override { return now_; }

  void Start(SiteWork work) override {
    starts.push_back({work.site, now_, work.version});
    const int attempt = attempts_[static_cast<size_t>(work.site)]++;
    Result<SiteUpdate> update = compute_(work, attempt);
    queue_.push(Pending{now_ + delays_[static_cast<size_t>(work.site)], work.site, std::move(work), std::move(update)});
  }

  FinishedWork Next() override {
    REQUIRE_FALSE(queue_.empty());
    Pending p = queue_.top();
    queue_.pop();
    now_ = p.finish;
    return FinishedWork{std::move(p.work), std::move(p.update)};
  }

  std::vector<double> StartTimes(int site) const {
    std::vector<double> t;
    for (const StartEvent& e : starts) {
      if (e.site == site) t.push_back(e.time);
    }
    return t;
  }

  std::vector<StartEvent> starts;

 private:
  struct Pending {
    double finish;
    int site;
    SiteWork work;
    Result<SiteUpdate> update;
    bool operator<(const Pending& o) const {  // earliest first; ties by site
      return finish != o.finish ? finish > o.finish : site > o.site;
    }
  };
  std::vector<double> delays_;
  Compute compute_;
  std::vector<std::string> names_;
  std::vector<int> attempts_;
  double now_ = 0;
  std::priority_queue<Pending> queue_;
};

// Each site pulls the model halfway toward its own target (site i: all values i + 1).
Result<SiteUpdate> TowardTarget(const SiteWork& work, int) {
  SiteUpdate u;
  u.values =
      0.5f * (Eigen::VectorXf::Constant(work.parameters->size(), static_cast<float>(work.site + 1)) - *work.parameters);
  u.rows = work.site + 1;
  u.loss_sum = u.rows;
  return u;
}

Result<ParameterServerResult> Run(SimulatedRunner& runner, const StrategySpec& spec, int64_t rounds,
                                  ParameterServerOptions options = {}) {
  Result<std::unique_ptr<UpdateStrategy>> strategy = MakeStrategy(spec, runner.sites());
  if (!strategy.ok()) return strategy.status();
  auto optimizer = MakeDeltaOptimizer(ServerOptimizerSpec{}, 3);
  options.rounds = rounds;
  return RunParameterServer(runner, **strategy, *optimizer, Eigen::VectorXf::Zero(3), options);
}

std::set<std::string> SitesOf(const nlohmann::json& round) {
  std::set<std::string> out;
  for (const auto& [site, m] : round["sites"].items()) out.insert(site);
  return out;
}

TEST_CASE("bsp: every round waits for the slowest site, then applies the sample-weighted mean") {
  SimulatedRunner runner({1, 2, 5}, TowardTarget);
  Result<ParameterServerResult> r = Run(runner, {"bsp"}, 4);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  for (int site = 0; site < 3; ++site) {
    CHECK(runner.StartTimes(site) == std::vector<double>{0, 5, 10, 15});
  }
  REQUIRE(r->rounds.size() == 4);
  for (const auto& round : r->rounds) {
    CHECK(round["updates"] == 3);
    CHECK(round["seconds"].get<double>() == 5);
  }
  // Round 1 from zero: the mean of 0.5 * target weighted by rows 1, 2, 3 is 0.5 * 14 / 6.
  // Every round closes the gap to 14/6 by half.
  const double fixed = 14.0 / 6.0;
  CHECK(r->parameters[0] == doctest::Approx(fixed * (1 - std::pow(0.5, 4))).epsilon(1e-6));
}

TEST_CASE("asp: no site ever waits; each update is applied as it arrives") {
  SimulatedRunner runner({1, 3}, TowardTarget);
  Result<ParameterServerResult> r = Run(runner, {"asp"}, 6);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  CHECK(runner.StartTimes(0) == std::vector<double>{0, 1, 2, 3, 4, 5});
  CHECK(runner.StartTimes(1) == std::vector<double>{0, 3, 6, 9, 12, 15});
  // Every start sees the model as it is at that moment: one version per update applied.
  int64_t applied = 0;
  for (const StartEvent& e : runner.starts) {
    CHECK(e.version <= applied + 12);
    applied = std::max(applied, e.version);
  }
  int updates = 0;
  for (const auto& round : r->rounds) updates += round["updates"].get<int>();
  CHECK(updates == 12);
  CHECK(r->rounds.size() == 6);  // a round ends when the slowest site has delivered it
}

TEST_CASE("ssp: a site blocks exactly when it would run more than s rounds ahead of the slowest") {
  for (int s : {0, 1, 2}) {
    CAPTURE(s);
    SimulatedRunner runner({1, 4}, TowardTarget);
    Result<ParameterServerResult> r = Run(runner, {"ssp", s}, 8);
    REQUIRE_MESSAGE(r.ok(), r.status().ToString());
    // The slow site never waits. The fast one starts round k when it has finished round k-1
    // and the slow one has finished round k-s (at 4(k-s)), whichever is later.
    std::vector<double> slow, fast;
    double t = 0;
    for (int k = 0; k < 8; ++k) {
      slow.push_back(4.0 * k);
      t = k == 0 ? 0 : std::max(t + 1, k - s > 0 ? 4.0 * (k - s) : 0.0);
      fast.push_back(t);
    }
    CHECK(runner.StartTimes(1) == slow);
    CHECK(runner.StartTimes(0) == fast);
  }
}

TEST_CASE("backup: each round applies the first N - b updates and drops exactly the b slowest") {
  for (const std::vector<double>& delays : {std::vector<double>{1, 2, 5}, std::vector<double>{5, 1, 2}}) {
    SimulatedRunner runner(delays, TowardTarget);
    Result<ParameterServerResult> r = Run(runner, {"backup", 0, 1}, 5);
    REQUIRE_MESSAGE(r.ok(), r.status().ToString());
    const std::string slowest = delays[0] == 5 ? "s0" : "s2";
    int late = 0;
    for (const auto& round : r->rounds) {
      CHECK(round["updates"] == 2);
      CHECK(SitesOf(round).count(slowest) == 0);
      for (const auto& site : round.value("late", nlohmann::json::array())) {
        CHECK(site == slowest);
        ++late;
      }
    }
    // Every piece of work the slowest site finished while the job ran came too late.
    CHECK(late >= 1);
    CHECK(r->rounds.size() == 5);
    CHECK(runner.StartTimes(delays[0] == 5 ? 1 : 0).size() == 5);
  }
}

// Site 2 is unreachable on its attempts 1 and 2 (its second and third pieces of work).
Result<SiteUpdate> SiteTwoAwayTwice(const SiteWork& work, int attempt) {
  if (work.site == 2 && (attempt == 1 || attempt == 2)) return Unavailable("site 's2': cannot connect");
  return TowardTarget(work, attempt);
}

TEST_CASE("a site that fails is dropped from the round, rejoins when it answers, and stalls no strategy") {
  for (const StrategySpec& spec : {StrategySpec{"bsp"}, StrategySpec{"asp"}, StrategySpec{"ssp", 0},
                                   StrategySpec{"ssp", 1}, StrategySpec{"backup", 0, 1}}) {
    CAPTURE(spec.name);
    CAPTURE(spec.staleness);
    SimulatedRunner runner({1, 2, 3}, SiteTwoAwayTwice);
    Result<ParameterServerResult> r = Run(runner, spec, 6);
    REQUIRE_MESSAGE(r.ok(), r.status().ToString());
    CHECK(r->rounds.size() == 6);
    size_t last_drop = 0;
    for (size_t i = 0; i < r->rounds.size(); ++i) {
      if (r->rounds[i].contains("dropped") && r->rounds[i]["dropped"].contains("s2")) last_drop = i + 1;
    }
    CHECK(last_drop >= 1);
    // After its two failures, site 2 was asked again and (unless it is a backup strategy's
    // slowest site, whose updates are always late) delivered.
    CHECK(runner.StartTimes(2).size() >= 3);
    if (spec.name == "backup") continue;
    bool rejoined = false;
    for (size_t i = last_drop; i < r->rounds.size(); ++i) rejoined = rejoined || SitesOf(r->rounds[i]).count("s2");
    CHECK(rejoined);
  }
}

TEST_CASE("below the quorum the training stops with an error naming the sites; a refusal stops it at once") {
  SimulatedRunner away({1, 2, 3}, SiteTwoAwayTwice);
  ParameterServerOptions options;
  options.quorum = 3;
  Result<ParameterServerResult> r = Run(away, {"bsp"}, 6, options);
  CHECK(r.status().code() == StatusCode::kUnavailable);
  CHECK_MESSAGE(r.status().message().find("round 2: 2 of 3 sites left, below the quorum of 3 (s2: site 's2': cannot "
                                          "connect)") != std::string::npos,
                r.status().message());

  for (const char* name : {"bsp", "asp"}) {
    SimulatedRunner refusing({1, 2, 3}, [](const SiteWork& work, int attempt) -> Result<SiteUpdate> {
      if (work.site == 1 && attempt == 3) return InvalidArgument("site 's1': batch size 32 does not fit");
      return TowardTarget(work, attempt);
    });
    Result<ParameterServerResult> refused = Run(refusing, {name}, 6);
    CHECK(refused.status().code() == StatusCode::kInvalidArgument);
    CHECK(refused.status().message().find("batch size 32 does not fit") != std::string::npos);
  }
}

TEST_CASE("strategy settings that cannot work are refused") {
  SimulatedRunner runner({1, 2}, TowardTarget);
  CHECK(Run(runner, {"backup", 0, 2}, 3).status().message() ==
        "backup: 2 backup sites of 2 (at least 1, and fewer than the sites)");
  CHECK(Run(runner, {"gossip"}, 3).status().message().find("unknown strategy 'gossip'") != std::string::npos);
  ParameterServerOptions options;
  options.quorum = 3;
  CHECK(Run(runner, {"bsp"}, 3, options).status().message().find("quorum: 3 sites, but only 2") != std::string::npos);
}

}  // namespace
}  // namespace fedra

namespace fedra {
namespace {

// bsp rounds with FedAdam at the server (whose moments a checkpoint must carry) over three
// simulated sites; `recovery` saves or resumes.
Result<ParameterServerResult> TrainWithCheckpoints(const TrainingRecovery& recovery) {
  SimulatedRunner runner({1, 2, 3}, TowardTarget);
  Result<std::unique_ptr<UpdateStrategy>> strategy = MakeStrategy({"bsp"}, runner.sites());
  REQUIRE(strategy.ok());
  ServerOptimizerSpec adam;
  adam.name = "fedadam";
  adam.lr = 0.1;
  auto optimizer = MakeDeltaOptimizer(adam, 3);
  ParameterServerOptions options;
  options.rounds = 6;
  options.recovery = &recovery;
  return RunParameterServer(runner, **strategy, *optimizer, Eigen::VectorXf::Zero(3), options);
}

}  // namespace

TEST_CASE("a run that goes on from a checkpoint ends exactly where the run straight through ends") {
  std::vector<Bytes> saved;
  TrainingRecovery save;
  save.every = 2;
  save.save = [&](const TrainingCheckpoint& c) {
    saved.push_back(EncodeCheckpoint(c));
    return Status::Ok();
  };
  Result<ParameterServerResult> straight = TrainWithCheckpoints(save);
  REQUIRE(straight.ok());
  REQUIRE(saved.size() == 3);  // after rounds 2, 4 and 6

  Result<TrainingCheckpoint> round4 = DecodeCheckpoint(saved[1]);
  REQUIRE_MESSAGE(round4.ok(), round4.status().ToString());
  CHECK(round4->round == 4);
  CHECK(round4->rounds.size() == 4);
  CHECK(round4->optimizer.vectors.size() == 2);  // FedAdam's m and v
  TrainingRecovery resume;
  resume.resume = *round4;
  Result<ParameterServerResult> resumed = TrainWithCheckpoints(resume);
  REQUIRE_MESSAGE(resumed.ok(), resumed.status().ToString());
  CHECK(resumed->parameters == straight->parameters);
  REQUIRE(resumed->rounds.size() == 6);
  for (size_t r = 0; r < 6; ++r) CHECK(resumed->rounds[r]["round"] == r + 1);

  // Without the server optimizer's moments the run would end elsewhere.
  resume.resume->optimizer.vectors[0].setZero();
  Result<ParameterServerResult> forgetful = TrainWithCheckpoints(resume);
  REQUIRE(forgetful.ok());
  CHECK(forgetful->parameters != straight->parameters);
}

TEST_CASE("checkpoints that do not fit are refused with the reason") {
  TrainingCheckpoint c{2, Eigen::VectorXf::Ones(5), {{Eigen::VectorXf::Zero(5)}, 7}, {{{"round", 1}}, {{"round", 2}}}};
  const Bytes bytes = EncodeCheckpoint(c);
  Result<TrainingCheckpoint> back = DecodeCheckpoint(bytes);
  REQUIRE(back.ok());
  CHECK(back->parameters == c.parameters);
  CHECK(back->optimizer.steps == 7);
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    CHECK(DecodeCheckpoint(std::span<const uint8_t>(bytes.data(), cut)).status().code() == StatusCode::kDataLoss);
  }
  // A checkpoint of another model.
  TrainingRecovery resume;
  resume.resume = c;
  const Status other = TrainWithCheckpoints(resume).status();
  CHECK(other.code() == StatusCode::kFailedPrecondition);
  CHECK(other.message() == "the checkpoint holds 5 parameters, the model 3");
}

}  // namespace fedra
